"""Origin servers on loopback: one port per origin (scheme and host), shared by every scenario, alive for a whole run.

Pages stay open at their origin for the whole run (navigation costs more than a
case), so each origin server dispatches to scenario backends by the request's
`cors_lab` token: several scenarios can be attached at once (a case that pauses
keeps its scenario attached while the next ones run). Ports are free ports
picked by the OS: runs never collide.
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from werkzeug.serving import WSGIRequestHandler, make_server

from .backend.recorder import TOKEN_PARAM
from .certs import LocalCA
from .frontend import PREFIX, frontend_app
from .gateway import Gateway
from .routing import Asked, Router
from .scenario.model import Origin, Scenario

LOOPBACK = "127.0.0.1"
POLL_S = 2.0


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_error(self, *args: Any) -> None:
        pass


class OriginServer:
    """A real threaded WSGI server bound to loopback on a free port."""

    def __init__(
        self, app: Callable[..., Iterable[bytes]], host: str = LOOPBACK, ssl_context: Optional[ssl.SSLContext] = None
    ) -> None:
        self._server = make_server(host, 0, app, threaded=True, request_handler=_QuietHandler, ssl_context=ssl_context)
        self._server.daemon_threads = True
        # An app that raises is recorded in its cell (the recorder's `failure`); the server's traceback would only be noise.
        self._server.log = lambda *args, **kwargs: None  # type: ignore[method-assign]
        self.port: int = self._server.server_port
        # A long poll: hundreds of these servers run at once (pin hosts keep one per attached scenario), and a short
        # one woke each of them 20 times a second. stop() wakes the loop with a connection instead.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": POLL_S}, name=f"origin-{self.port}", daemon=True
        )
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        stopping = threading.Thread(target=self._server.shutdown, daemon=True)
        stopping.start()
        try:  # the serve loop sees the shutdown request as soon as its select returns
            socket.create_connection((self._server.server_address[0], self.port), timeout=1).close()
        except OSError:
            pass
        stopping.join(timeout=POLL_S + 5)
        self._server.server_close()
        self._thread.join(timeout=5)


def mount_key(query_string: str) -> str:
    """The attached scenario a request belongs to: the part of its `cors_lab=KEY.CASE` token before the dot."""
    start = query_string.find(TOKEN_PARAM + "=")
    if start < 0 or (start and query_string[start - 1] != "&"):
        return ""
    token = query_string[start + len(TOKEN_PARAM) + 1 :].split("&", 1)[0]
    return token.split(".", 1)[0] if "." in token else ""


OriginKey = Tuple[str, str, int]


def origin_keys(origins: Mapping[str, Origin]) -> Dict[str, OriginKey]:
    """Which server serves each of a scenario's origins: one per origin served as written, and for lab-assigned ones
    one per scheme and host, shared by every scenario (a page at `http://app.localhost` stays open for all of them).
    A scenario that names the same scheme and host twice means two origins (different ports): its second one gets
    the next server of that host."""
    keys: Dict[str, OriginKey] = {}
    taken: Dict[Tuple[str, str], int] = {}
    for name, origin in origins.items():
        if origin.as_written:
            keys[name] = ("", origin.as_written, 0)
        else:  # a lab-assigned origin declared in another space than loopback is told apart by its port
            host = origin.host if origin.space == "loopback" else f"{origin.host} {origin.space}"
            ordinal = taken.get((origin.scheme, host), 0)
            taken[(origin.scheme, host)] = ordinal + 1
            keys[name] = (origin.scheme, host, ordinal)
    return keys


def browser_hostname(host: str, host_suffix: str = "localhost") -> str:
    """The name a browser uses for a declared `*.localhost` host when origins live under `host_suffix`."""
    if host_suffix == "localhost":
        return host
    return host_suffix if host == "localhost" else host[: -len("localhost")] + host_suffix


def lab_assigned_names(scenarios: Sequence[Scenario], host_suffix: str = "localhost") -> List[str]:
    """The `*.localhost` names the lab assigns ports to: browsers reach them directly, not through the router
    (plain `localhost` is left out, so that `http://localhost:5173` written as such is routed)."""
    return sorted(
        {
            browser_hostname(o.host, host_suffix)
            for s in scenarios
            for o in s.origins.values()
            if o.port is None and o.host != "localhost"
        }
    )


class OriginPool:
    """All origin servers of one worker, and the backend mounted on them right now.

    `bind` and `host_suffix` are for browsers on other machines: servers listen on
    `bind` and `app.localhost` becomes `app.<host_suffix>`, a name that the remote
    browser must resolve to `bind` (DNS, a hosts file, or resolver rules).
    """

    def __init__(self, bind: str = LOOPBACK, host_suffix: str = "localhost", router: Optional[Router] = None) -> None:
        self.bind = bind
        self.host_suffix = host_suffix
        self.router = router
        self._servers: Dict[OriginKey, OriginServer] = {}
        self._attached: Dict[str, Callable[..., Iterable[bytes]]] = {}
        self._latest: Optional[Callable[..., Iterable[bytes]]] = None
        self._ca: Optional[LocalCA] = None
        self._gateways: Dict[int, Gateway] = {}

    def urls(self, origins: Mapping[str, Origin]) -> Dict[str, str]:
        """The real origin (with its port) of each of a scenario's declared origins; starts servers on first use.

        An origin served as written (`https://app.example.com`, `http://localhost:5173`) gets a server on a free
        loopback port and a route from its name and port in the lab's router: the real port is never bound, so
        it cannot clash with a dev server running there, and each browser has its own."""
        keys = origin_keys(origins)
        return {name: self._url(origin, keys[name]) for name, origin in origins.items()}

    def _url(self, origin: Origin, key: OriginKey) -> str:
        written = origin.as_written
        if written is not None and self.router is None:
            raise OSError(f"{written} can only be served to a browser the lab launched with its routing")
        if key not in self._servers:
            tls = None
            if origin.scheme == "https":
                self._ca = self._ca or LocalCA()
                tls = self._ca.context(origin.host)
            server = self._servers[key] = OriginServer(self._dispatch, host=self.bind, ssl_context=tls)
            if self.router is not None:
                if origin.port is not None:  # served as written: the browsers ask for this very name and port
                    self.router.route(origin.host, origin.port, server.port)
                else:  # for a browser that sends loopback names through the proxy too
                    self.router.route(self.hostname(origin.host), server.port, server.port)
        if written is not None:
            return written
        return f"{origin.scheme}://{self.hostname(origin.host)}:{self._servers[key].port}"

    def server_port(self, origin: Origin, key: OriginKey) -> int:
        """The loopback port of the server for this origin (started on first use)."""
        self._url(origin, key)
        return self._servers[key].port

    def gateway(self, written_port: int) -> Gateway:
        """The gateway for a written port (lab/gateway.py), started on first use and closed with the pool."""
        if written_port not in self._gateways:
            self._gateways[written_port] = Gateway(written_port)
        return self._gateways[written_port]

    def gateways_asked(self) -> List[Asked]:
        """Every connection a browser made to the pool's gateways, by the name it asked for."""
        return [asked for gateway in self._gateways.values() for asked in gateway.asked()]

    def hostname(self, host: str) -> str:
        """The name a browser uses for a declared `*.localhost` host."""
        return browser_hostname(host, self.host_suffix)

    def alive(self, origins: Mapping[str, Origin], name: str) -> bool:
        """Whether the server of a scenario's origin `name` is still serving."""
        server = self._servers.get(origin_keys(origins)[name])
        return server is not None and server.alive

    def attach(self, key: str, backend: Callable[..., Iterable[bytes]]) -> None:
        """Serve requests whose token starts with `KEY.` from this backend (see `mount_key`); key "" serves requests
        whose token names no scenario (a single-scenario user)."""
        self._attached[key] = backend
        self._latest = backend

    def detach(self, key: str) -> None:
        backend = self._attached.pop(key, None)
        if backend is not None and backend is self._latest:
            self._latest = next(reversed(self._attached.values()), None)

    def _dispatch(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(PREFIX):
            return frontend_app(environ, start_response)
        # A request without a known token (a redirect target with a query of its own) goes to the newest scenario.
        key = mount_key(environ.get("QUERY_STRING", ""))
        backend = self._attached.get(key) or self._latest
        if backend is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"cors-lab: no scenario is mounted"]
        return backend(environ, start_response)

    def close(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()
        for gateway in self._gateways.values():
            gateway.close()
        self._gateways.clear()
        if self._ca is not None:
            self._ca.remove()
            self._ca = None
