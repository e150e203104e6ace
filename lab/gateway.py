"""Gateways: where Firefox connects, directly, for an origin served as written that lives outside the public space.

Firefox applies Local Network Access only to connections it makes itself, never to requests it sends through a
proxy (docs/local-network-access.md). To place `https://app.example.com` in the public space and
`http://nas.home.example.net` in the local one, Firefox must connect to them directly. It is told
`network.dns.localDomains` (those names resolve to 127.0.0.1 inside Firefox: no lookup leaves it) and
`network.socket.forcePort` (port 443 becomes this gateway's port, and so on), and the gateway's port gets the
origin's space (`network.lna.address_space.*.override`). One gateway serves one written port for every name on
it: it reads the name the browser asked for (the TLS ClientHello's server name, or the Host header) without
consuming it, and splices the connection to the lab's server for that origin. A name it has no route for is
refused (closed) and recorded, like the router's refusals.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Dict, List, Optional

from .routing import LOOPBACK, Asked, Listener, splice

PEEK_LIMIT = 16384


def server_name(hello: bytes) -> Optional[str]:
    """The server name (SNI) of a TLS ClientHello record, or None when there is none (or the record is cut)."""
    try:
        if hello[0] != 0x16 or hello[5] != 0x01:
            return None
        at = 9 + 2 + 32  # record header (5), handshake header (4), version (2), random (32)
        at += 1 + hello[at]  # session id
        at += 2 + int.from_bytes(hello[at : at + 2], "big")  # cipher suites
        at += 1 + hello[at]  # compression methods
        end = at + 2 + int.from_bytes(hello[at : at + 2], "big")
        at += 2
        while at + 4 <= end:
            kind, length = int.from_bytes(hello[at : at + 2], "big"), int.from_bytes(hello[at + 2 : at + 4], "big")
            if kind == 0:  # server_name: list length (2), type (1), name length (2), name
                size = int.from_bytes(hello[at + 7 : at + 9], "big")
                return hello[at + 9 : at + 9 + size].decode("ascii").lower()
            at += 4 + length
    except (IndexError, UnicodeDecodeError):
        return None
    return None


def host_header(head: bytes) -> Optional[str]:
    """The host name of a plain HTTP request's Host header (its port left out), or None."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"host":
            host = value.strip().decode("latin-1").lower()
            return host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return None


class Gateway:
    """A listener on loopback for one written port: name -> the lab's server port for that origin."""

    def __init__(self, port: int) -> None:
        self.written_port = port
        self._routes: Dict[str, int] = {}
        self._asked: List[Asked] = []
        self._lock = threading.Lock()
        self._listener = Listener(self._handle, f"gateway-{port}", 0.5)
        self.port = self._listener.port

    def route(self, host: str, local_port: int) -> None:
        """Splice connections that ask for `host` to the lab's server on 127.0.0.1:local_port."""
        with self._lock:
            self._routes[host.lower()] = local_port

    def asked(self) -> List[Asked]:
        """Every connection Firefox made here, by the name it asked for: routed, or refused (closed)."""
        with self._lock:
            return list(self._asked)

    def _handle(self, client: socket.socket) -> None:
        try:
            client.settimeout(10)
            name = self._peek_name(client)
            if name == "":  # opened and closed unused (Firefox connects ahead of its requests): nothing was asked
                return
            with self._lock:
                local = self._routes.get(name or "")
                self._asked.append(Asked(name or "", self.written_port, "DIRECT", local is not None))
            if local is None:
                return
            upstream = socket.create_connection((LOOPBACK, local), timeout=10)
            client.settimeout(None)
            splice(client, upstream, b"")
        except OSError:
            pass
        finally:
            client.close()

    @staticmethod
    def _peek_name(client: socket.socket) -> Optional[str]:
        """The name the browser asked for, read without taking the bytes: the lab's server reads them again ("" when
        the connection closed before a byte came, None when no name can be read)."""
        deadline = time.monotonic() + 10
        seen = client.recv(PEEK_LIMIT, socket.MSG_PEEK)  # waits for the first bytes
        if not seen:
            return ""
        while seen and len(seen) < PEEK_LIMIT and time.monotonic() < deadline:
            if seen[:1] == b"\x16":
                if len(seen) >= 5 and len(seen) >= 5 + int.from_bytes(seen[3:5], "big"):
                    break
            elif b"\r\n\r\n" in seen:
                break
            time.sleep(0.005)  # the rest of the hello or head is on its way: a peek does not wait for it
            seen = client.recv(PEEK_LIMIT, socket.MSG_PEEK)
        return server_name(seen) if seen[:1] == b"\x16" else host_header(seen)

    def close(self) -> None:
        """Stop listening; connections in flight end with their browser."""
        self._listener.close()
