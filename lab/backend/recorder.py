"""WSGI middleware that records what the backend really exchanged, per case.

Each case's fetch URL carries a unique `cors_lab` query token (which also keeps
browsers' preflight and HTTP caches from leaking between cases). The recorder
files every request under its token, with the request headers the server saw
and the status and headers it sent, including any a "proxy" layer added.
"""

from __future__ import annotations

import socket
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple
from urllib.parse import parse_qs

from ..standard import malformed_header

TOKEN_PARAM = "cors_lab"
RESET_KEY = "cors_lab.reset"
"""A view sets this in the WSGI environ to have the connection dropped without an answer."""

WSGIApp = Callable[[Dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class AppRaised(Exception):
    """An exception escaped the app in a pin's host process; the message is the app's own `Type: text`."""


@dataclass
class Exchange:
    """One request the server received and what it answered."""

    kind: str  # preflight | request
    method: str
    path: str
    request_headers: Dict[str, str]
    status: Optional[int] = None
    response_headers: List[Tuple[str, str]] = field(default_factory=list)
    failure: Optional[str] = None

    def malformed(self) -> Optional[str]:
        """What makes the response the server sent invalid HTTP (a NUL, CR or LF in a header), or None."""
        return malformed_header(self.response_headers)

    def to_dict(self) -> Dict[str, Any]:
        # By hand: asdict's recursive copy was the largest share of the lab's own CPU per cell.
        return {
            "kind": self.kind,
            "method": self.method,
            "path": self.path,
            "request_headers": dict(self.request_headers),
            "status": self.status,
            "response_headers": [list(pair) for pair in self.response_headers],
            "failure": self.failure,
        }


def request_headers(environ: Dict[str, Any]) -> Dict[str, str]:
    """The request's headers as the server saw them, rebuilt from the WSGI environ."""
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").title()] = value
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").title()] = environ[key]
    return headers


def _drop(environ: Dict[str, Any]) -> None:
    """Close the client's connection at once, so the browser sees a network failure and not a made-up answer."""
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Recorder:
    """Wraps the backend; `proxy_headers` are added to every response, as an nginx `add_header` would."""

    def __init__(self, app: WSGIApp, proxy_headers: Iterable[Tuple[str, str]] = ()) -> None:
        self.app = app
        self.proxy_headers = list(proxy_headers)
        self._lock = threading.Lock()
        self._by_token: Dict[str, List[Exchange]] = defaultdict(list)

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        token = parse_qs(environ.get("QUERY_STRING", "")).get(TOKEN_PARAM, [""])[0]
        headers = request_headers(environ)
        method = environ.get("REQUEST_METHOD", "GET")
        is_preflight = method == "OPTIONS" and "Access-Control-Request-Method" in headers
        exchange = Exchange("preflight" if is_preflight else "request", method, environ.get("PATH_INFO", ""), headers)
        with self._lock:
            self._by_token[token].append(exchange)

        def recording_start_response(status: str, response_headers: List[Tuple[str, str]], exc_info: Any = None) -> Any:
            response_headers = list(response_headers) + self.proxy_headers
            exchange.status = int(status.split(" ", 1)[0])
            exchange.response_headers = response_headers
            return start_response(status, response_headers, exc_info)

        try:
            result = self.app(environ, recording_start_response)
        except BaseException as exc:
            exchange.failure = str(exc) if isinstance(exc, AppRaised) else f"{type(exc).__name__}: {exc}"
            _drop(environ)
            raise
        if environ.get(RESET_KEY):
            exchange.status, exchange.response_headers, exchange.failure = (
                None,
                [],
                f"connection reset: {environ[RESET_KEY]}",
            )
            _drop(environ)
            return []
        return result

    def take(self, token: str) -> List[Exchange]:
        """The exchanges filed under one case's token, in arrival order."""
        with self._lock:
            return list(self._by_token.pop(token, []))
