"""The lab's routing for origins as production writes them: a forwarding proxy the browsers are told to use.

`https://app.example.com` must be served at exactly that origin, yet nothing may
leave the machine, not even a DNS lookup. Browsers configured with an HTTP proxy
hand it the name instead of resolving it, so this proxy is the only way out of
every browser the lab launches: a name a scenario declared is connected to the
lab's local server for it (on loopback); every other name gets the lab's 403 and
is recorded. The proxy itself only ever connects to 127.0.0.1, and names are
dictionary keys here, never looked up.

`CONNECT host:port` is tunnelled as bytes (the local server speaks TLS with a
certificate for `host` from the run-time CA); a plain-HTTP request with an
absolute URI is passed on in origin form with its Host header kept, one request
per connection.

Each browser worker of `cors-lab run` has its own router (lab/run.py), and each
launcher points its browser at it (lab/browsers/): Chromium through Playwright's
launch `proxy`; Firefox through `network.proxy.*` prefs with `failover_direct` and
`allow_bypass` off (Playwright's `proxy` leaves https direct for stock Firefox);
WebKitGTK through `http_proxy`/`https_proxy` in WebKitWebDriver's environment, with
`no_proxy=127.0.0.1` for the driver's own connection.
"""

from __future__ import annotations

import select
import socket
import socketserver
import threading
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"
HOP_BY_HOP = {"proxy-connection", "proxy-authorization", "connection", "keep-alive", "te", "trailer", "upgrade"}


@dataclass(frozen=True)
class Asked:
    """One request the browser sent to the proxy, and what the lab did with it."""

    host: str
    port: int
    method: str
    routed: bool


def _split(authority: str, default_port: int) -> Tuple[str, int]:
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        return host.lower(), int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else default_port
    host, separator, port = authority.rpartition(":")
    if not separator or not port.isdigit():
        return authority.lower(), default_port
    return host.lower(), int(port)


class Listener:
    """A threaded TCP server on loopback (a free port) that hands each connection to `handle`, until `close`."""

    def __init__(self, handle: Callable[[socket.socket], None], name: str, poll_s: float, bind: str = LOOPBACK) -> None:
        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                handle(self.request)

        self._server = socketserver.ThreadingTCPServer((bind, 0), Handler, bind_and_activate=True)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": poll_s}, name=name, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop accepting; connections being served end on their own."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class Router:
    """A forwarding proxy on loopback with a route table (name, port) -> local port, and a record of every name asked."""

    def __init__(self, bind: str = LOOPBACK) -> None:
        self._routes: Dict[Tuple[str, int], int] = {}
        self._asked: List[Asked] = []
        self._lock = threading.Lock()
        self._listener = Listener(self._handle, "router", 0.1, bind)
        self.address = f"{bind}:{self._listener.port}"

    def route(self, host: str, port: int, local_port: int) -> None:
        """Send the browsers' requests for host:port to the lab's server on 127.0.0.1:local_port."""
        with self._lock:
            self._routes[(host.lower(), port)] = local_port

    def asked(self) -> List[Asked]:
        """Every request the browsers sent through the lab's routing, routed or refused, in order."""
        with self._lock:
            return list(self._asked)

    def _decide(self, host: str, port: int, method: str) -> Optional[int]:
        with self._lock:
            local = self._routes.get((host, port))
            self._asked.append(Asked(host, port, method, local is not None))
        return local

    def _handle(self, client: socket.socket) -> None:
        try:
            read = _read_head(client)
            if read is None:
                return
            head, rest = read
            lines = head.decode("latin-1").split("\r\n")
            method, target = (lines[0].split(" ") + ["", ""])[:2]
            if method == "CONNECT":
                host, port = _split(target, 443)
                local = self._decide(host, port, method)
                if local is None:
                    return _refuse(client, target)
                upstream = socket.create_connection((LOOPBACK, local), timeout=10)
                client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                return splice(client, upstream, rest)
            url = urlsplit(target)
            if url.scheme != "http" or not url.hostname:
                self._decide("", 0, method)
                return _refuse(client, target)
            host, port = url.hostname.lower(), url.port or 80
            local = self._decide(host, port, method)
            if local is None:
                return _refuse(client, target)
            headers = [line for line in lines[1:] if line and line.split(":", 1)[0].strip().lower() not in HOP_BY_HOP]
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
            request = (
                f"{method} {path} HTTP/1.1\r\n"
                + "".join(f"{line}\r\n" for line in headers)
                + "Connection: close\r\n\r\n"
            )
            upstream = socket.create_connection((LOOPBACK, local), timeout=10)
            splice(client, upstream, request.encode("latin-1") + rest)
        except OSError:
            pass
        finally:
            client.close()

    def close(self) -> None:
        self._listener.close()


def _read_head(client: socket.socket) -> Optional[Tuple[bytes, bytes]]:
    """The request line and headers up to the blank line, and any bytes that came after them (a body's start)."""
    client.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk or len(data) > 65536:
            return None
        data += chunk
    client.settimeout(None)
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _refuse(client: socket.socket, target: str) -> None:
    body = (
        f"cors-lab: {target} is not an origin this run declared; the lab refused it (nothing was sent out)\n".encode()
    )
    client.sendall(
        b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def splice(client: socket.socket, upstream: socket.socket, first: bytes) -> None:
    """Copy bytes both ways until either side closes."""
    try:
        if first:
            upstream.sendall(first)
        upstream.settimeout(None)
        sockets = [client, upstream]
        while True:
            readable, _, failed = select.select(sockets, [], sockets, 60)
            if failed or not readable:
                return
            for source in readable:
                data = source.recv(65536)
                if not data:
                    return
                (upstream if source is client else client).sendall(data)
    finally:
        upstream.close()
