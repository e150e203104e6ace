"""The gateways Firefox reaches origins as written through (lab/gateway.py): the name is read without taking the
bytes, a declared name is spliced to the lab's server, any other is refused and recorded."""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from typing import Iterator

import pytest

from lab.gateway import Gateway, host_header, server_name
from lab.routing import Asked


def _client_hello(name: str) -> bytes:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname=name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_the_name_is_read_from_a_client_hello_and_a_host_header() -> None:
    assert server_name(_client_hello("App.Example.com")) == "app.example.com"
    assert server_name(_client_hello("app.example.com")[:40]) is None  # cut short: no name rather than a guess
    assert server_name(b"GET / HTTP/1.1\r\n\r\n") is None
    assert host_header(b"GET /x HTTP/1.1\r\nHost: Nas.Local:8080\r\nAccept: */*\r\n\r\n") == "nas.local"
    assert host_header(b"GET /x HTTP/1.1\r\nAccept: */*\r\n\r\n") is None


@pytest.fixture
def echo() -> Iterator[int]:
    """A server on loopback that answers with the first bytes it received."""

    class Echo(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(b"got:" + self.request.recv(65536))

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_declared_name_is_spliced_whole_and_any_other_refused(echo: int) -> None:
    gateway = Gateway(80)
    try:
        gateway.route("nas.local", echo)
        request = b"GET /api HTTP/1.1\r\nHost: nas.local\r\n\r\n"
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as conn:
            conn.sendall(request)
            assert conn.recv(65536) == b"got:" + request  # the server read every byte the gateway peeked at
        hello = _client_hello("nas.local")
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as conn:
            conn.sendall(hello)
            assert conn.recv(65536) == b"got:" + hello
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: elsewhere.example.net\r\n\r\n")
            try:
                assert conn.recv(65536) == b""  # closed: nothing was sent anywhere
            except ConnectionResetError:
                pass  # closed with the request unread: the same refusal
        socket.create_connection(("127.0.0.1", gateway.port), timeout=5).close()  # opened unused: not a request
        assert gateway.asked() == [
            Asked("nas.local", 80, "DIRECT", True),
            Asked("nas.local", 80, "DIRECT", True),
            Asked("elsewhere.example.net", 80, "DIRECT", False),
        ]
    finally:
        gateway.close()
