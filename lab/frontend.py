"""The frontend every origin serves: a blank page that loads the probe."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Iterable

PREFIX = "/__cors_lab__/"
PAGE_PATH = PREFIX + "page"
PROBE_JS = (Path(__file__).parent / "probe.js").read_bytes()
PAGE_HTML = (
    b"<!doctype html><html><head><meta charset=utf-8><title>cors-lab</title>"
    b'<link rel="icon" href="data:,">'
    b'<script src="/__cors_lab__/probe.js"></script></head>'
    b"<body>cors-lab probe page</body></html>"
)


def frontend_app(environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Serve the probe page and script; nothing here carries CORS headers."""
    path = environ.get("PATH_INFO", "")
    if path == PAGE_PATH:
        body, kind = PAGE_HTML, "text/html; charset=utf-8"
    elif path == PREFIX + "probe.js":
        body, kind = PROBE_JS, "text/javascript; charset=utf-8"
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    start_response(
        "200 OK", [("Content-Type", kind), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
    )
    return [body]
