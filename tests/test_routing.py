"""The lab's routing for real-looking origins, on its own: real sockets on loopback, nothing sent anywhere else.

"Nothing leaves" is proven by observing the router: every name a client asks for
is recorded, declared names reach the lab's local server, and any other name gets
the lab's refusal without a connection being attempted.
"""

from __future__ import annotations

import socket
from typing import Iterator, List, Tuple

import pytest

from lab.routing import Asked, Router
from lab.servers import OriginServer


def _echo(environ: dict, start_response) -> List[bytes]:  # type: ignore[no-untyped-def]
    body = (
        f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}?{environ['QUERY_STRING']} host={environ.get('HTTP_HOST')}"
    )
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body.encode()]


@pytest.fixture()
def routed() -> Iterator[Tuple[Router, OriginServer]]:
    server = OriginServer(_echo)
    router = Router()
    router.route("api.example.com", 443, server.port)
    router.route("app.example.com", 8080, server.port)
    try:
        yield router, server
    finally:
        router.close()
        server.stop()


def _exchange(router: Router, data: bytes) -> bytes:
    host, port = router.address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        return received


def test_a_connect_to_a_declared_name_is_tunnelled_to_the_labs_server(routed: Tuple[Router, OriginServer]) -> None:
    router, _ = routed
    host, port = router.address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n")
        assert connection.recv(4096).startswith(b"HTTP/1.1 200")
        connection.sendall(b"GET /x?t=1 HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200") and received.endswith(b"GET /x?t=1 host=api.example.com")
    assert router.asked() == [Asked("api.example.com", 443, "CONNECT", True)]


def test_plain_http_keeps_the_host_and_sends_the_path_in_origin_form(routed: Tuple[Router, OriginServer]) -> None:
    router, _ = routed
    answer = _exchange(
        router,
        b"GET http://app.example.com:8080/page?a=b HTTP/1.1\r\nHost: app.example.com:8080\r\n"
        b"Proxy-Connection: keep-alive\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"GET /page?a=b host=app.example.com:8080")
    assert router.asked() == [Asked("app.example.com", 8080, "GET", True)]


def test_an_undeclared_name_or_port_gets_the_labs_refusal_and_is_recorded(routed: Tuple[Router, OriginServer]) -> None:
    router, _ = routed
    for request, host, port, method in (
        (b"CONNECT undeclared.example.net:443 HTTP/1.1\r\n\r\n", "undeclared.example.net", 443, "CONNECT"),
        (b"CONNECT api.example.com:8443 HTTP/1.1\r\n\r\n", "api.example.com", 8443, "CONNECT"),
        (
            b"GET http://nowhere.example.org/ HTTP/1.1\r\nHost: nowhere.example.org\r\n\r\n",
            "nowhere.example.org",
            80,
            "GET",
        ),
    ):
        answer = _exchange(router, request)
        assert answer.startswith(b"HTTP/1.1 403") and b"the lab refused it (nothing was sent out)" in answer
        assert router.asked()[-1] == Asked(host, port, method, False)
    assert not any(asked.routed for asked in router.asked())
