"""Forward a browser's request, as received, to a server on another loopback port (a pin's host, the user's app)."""

from __future__ import annotations

import http.client
from typing import Any, Callable, Dict, Iterable

from ..apphost import APP_FAILURE_HEADER
from .recorder import AppRaised, WSGIApp, request_headers

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


def forwarding_app(port: int, timeout_s: float) -> WSGIApp:
    """A WSGI app that sends each request, as received, to a backend on a loopback port. One connection per request:
    the host serves with Werkzeug's development server, which closes every connection after its response
    (`Connection: close`, as `flask run` does), so there is nothing to keep alive."""

    def forward(environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = request_headers(environ)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
        try:
            connection.request(environ["REQUEST_METHOD"], target, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        failure = response.getheader(APP_FAILURE_HEADER)
        if failure:
            raise AppRaised(failure)
        kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
        start_response(f"{response.status} {response.reason}", kept)
        return [data]

    return forward
