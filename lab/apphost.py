"""Serve the user's own Flask app from its own interpreter: run by the lab as `python -c <this file's source>`.

This file runs inside the app's environment, which has none of the lab's
dependencies, so it imports only the standard library and the app's own Flask
and Werkzeug, and keeps to Python 3.9. It is executed from its source rather than
as a module so that nothing of the lab lands on the app's `sys.path` (an app's
`run.py` must not meet the lab's). It builds the app exactly once, the way
`flask run` would (the project folder first on `sys.path`, `.flaskenv` and
`.env` loaded when python-dotenv is installed), and serves it on a loopback port
until its standard input closes (the lab stopped, or died). The app may reach
nothing outside loopback: lookups and connections elsewhere are refused.

Protocol: one JSON line on stdout, then silence.
  {"ready": true, "port": 41234, "versions": {...}, "routes": [{"rule": ..., "methods": [...], "path": ...}]}
  {"ready": false, "error": "ModuleNotFoundError: No module named 'x' | ..."}
The request: argv[1] is a JSON object {"project": DIR, "module": ..., "attribute": ..., "call": bool, "args": [...],
"kwargs": {...}}; the scenario's environment is the process's.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import traceback
from typing import Any, Callable, Dict, Iterable, List

APP_FAILURE_HEADER = "X-Cors-Lab-App-Failure"
"""Set on the 500 the host sends when an exception escaped the app (past Flask's own handling), so that the lab
records the app's failure as an `error` instead of a 500 that a real server would have made up."""

SAMPLES = {"integer": "1", "float": "1.5", "path": "a/b", "uuid": "00000000-0000-4000-8000-000000000000"}
"""Sample values per Werkzeug converter (IntegerConverter...); `any(a, b)` takes its first choice, others "sample"."""


def app_failure_text(exc: BaseException) -> str:
    """One ASCII line for a header: the exception's type and message."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())[:400]
    return text.encode("ascii", "backslashreplace").decode("ascii")


def traceback_tail(exc: BaseException, lines: int = 6) -> str:
    """The last lines of a traceback on one line: what a user needs to see why their app did not build."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:] if line.strip())


def guarded(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """The app, with an exception that escapes it answered by a marked 500."""

    def serve(environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return app(environ, start_response)
        except Exception as exc:
            start_response(
                "500 Internal Server Error",
                [("Content-Type", "text/plain"), (APP_FAILURE_HEADER, app_failure_text(exc))],
                sys.exc_info(),
            )
            return [b""]

    return serve


def is_loopback(host: Any) -> bool:
    """Whether a host name or address stays on this machine (`localhost`, `*.localhost`, 127.0.0.0/8, ::1)."""
    import ipaddress

    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    name = str(host).strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%")[0]).is_loopback
    except ValueError:
        return False


OUTSIDE = "cors-lab: {} is outside loopback; the app under test may not reach it (its routes are fetched by a scan)"


def confine_to_loopback() -> None:
    """Refuse every name lookup and connection that would leave the machine, before it is made: a scan fetches every
    route, and a real app's routes call payment providers, OAuth servers and mail relays. The app sees an ordinary
    network error (its own 500, a CORS-less answer), which the lab records like any other."""
    import socket

    real_getaddrinfo, real_gethostbyname = socket.getaddrinfo, socket.gethostbyname
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, OUTSIDE.format(host))
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        if not is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, OUTSIDE.format(host))
        return real_gethostbyname(host)

    def outside(sock: Any, address: Any) -> bool:
        return sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address[0])

    def connect(self: Any, address: Any) -> None:
        if outside(self, address):
            raise ConnectionRefusedError(OUTSIDE.format(address[0]))
        return real_connect(self, address)

    def connect_ex(self: Any, address: Any) -> int:
        if outside(self, address):
            raise ConnectionRefusedError(OUTSIDE.format(address[0]))
        return real_connect_ex(self, address)

    socket.getaddrinfo, socket.gethostbyname = getaddrinfo, gethostbyname
    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex  # type: ignore[method-assign]


def load_dotenv_files(project: str) -> None:
    """What `flask run` does: `.flaskenv` then `.env` from the project, never over a variable already set, and only
    when the app's environment has python-dotenv (Flask's rule)."""
    try:
        from dotenv import dotenv_values
    except ImportError:
        return
    for name in (".flaskenv", ".env"):
        path = os.path.join(project, name)
        if os.path.isfile(path):
            for key, value in dotenv_values(path).items():
                if value is not None and key not in os.environ:
                    os.environ[key] = value


def build(request: Dict[str, Any]) -> Any:
    """Import the module and take (or call) the app, as the scenario's `app = ...` names it."""
    import importlib

    project = request["project"]
    sys.path.insert(0, project)
    load_dotenv_files(project)
    module = importlib.import_module(request["module"])
    target = getattr(module, request["attribute"])
    return target(*request["args"], **request["kwargs"]) if request["call"] else target


def flask_app(app: Any) -> Any:
    """The Flask app inside a WSGI wrapper (ProxyFix, DispatcherMiddleware's mounts), for its URL map; or None."""
    seen = set()
    while app is not None and id(app) not in seen:
        seen.add(id(app))
        if hasattr(app, "url_map"):
            return app
        app = getattr(app, "app", None) or getattr(app, "wsgi_app", None)
    return None


def mounted_apps(app: Any) -> List[Any]:
    """(prefix, Flask app) pairs: the app itself, and each app a DispatcherMiddleware mounts under a prefix."""
    found = []
    root = flask_app(app)
    if root is not None:
        found.append(("", root))
    wrapper = app
    for _ in range(5):  # ProxyFix(DispatcherMiddleware(...)) and the like
        mounts = getattr(wrapper, "mounts", None)
        if isinstance(mounts, dict):
            found += [(prefix, flask_app(child)) for prefix, child in mounts.items() if flask_app(child) is not None]
            if root is None and flask_app(getattr(wrapper, "app", None)) is not None:
                found.append(("", flask_app(wrapper.app)))
            break
        wrapper = getattr(wrapper, "app", None)
        if wrapper is None:
            break
    return found


def routes(app: Any) -> List[Dict[str, Any]]:
    """Every route and method a browser can fetch (static files aside), with a path whose parameters hold samples."""
    found = []
    for prefix, flask in mounted_apps(app):
        for rule in sorted(flask.url_map.iter_rules(), key=lambda r: r.rule):
            if rule.endpoint == "static":
                continue
            path = rule.rule
            for name, converter in getattr(rule, "_converters", {}).items():
                kind = type(converter).__name__.replace("Converter", "").lower()
                choices = getattr(converter, "items", None)  # AnyConverter: the values it accepts
                sample = sorted(choices)[0] if kind == "any" and choices else SAMPLES.get(kind, "sample")
                path = re.sub(r"<(?:[^<>:]+(?:\([^)]*\))?:)?" + re.escape(name) + r">", sample, path)
            methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
            found.append({"rule": prefix + rule.rule, "methods": methods, "path": prefix + path})
    return found


def versions() -> Dict[str, str]:
    import platform

    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover (3.9 has it; kept for odd interpreters)
        return {"python": platform.python_version()}

    found = {"python": platform.python_version()}
    for package in ("flask", "flask-cors", "werkzeug"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def serve(app: Any) -> Any:
    """A threaded Werkzeug server on a free loopback port, quiet (the lab records every exchange itself)."""
    import logging

    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

        def log_error(self, *args: Any) -> None:
            pass

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, guarded(app), threaded=True, request_handler=Quiet)
    server.daemon_threads = True
    server.log = lambda *args, **kwargs: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def reply(message: Dict[str, Any]) -> None:
    out = sys.__stdout__
    out.write(json.dumps(message) + "\n")
    out.flush()


def main(argv: List[str]) -> int:
    request = json.loads(argv[1])
    # The app's own prints go to stderr: stdout carries the protocol line only.
    sys.stdout = sys.stderr
    confine_to_loopback()
    try:
        app = build(request)
        if not callable(app):
            raise TypeError(f"{request['module']}:{request['attribute']} is {type(app).__name__}, not a WSGI app")
        listed = routes(app)
        server = serve(app)
    except BaseException as exc:  # SystemExit from an app that refuses to start included
        reply({"ready": False, "error": traceback_tail(exc)})
        return 1
    reply({"ready": True, "port": server.server_port, "versions": versions(), "routes": listed})
    for _ in sys.stdin:  # nothing is sent: end of input means the lab is done (or gone)
        pass
    os._exit(0)  # the app's non-daemon threads (schedulers, pools) must not keep an orphan alive


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
