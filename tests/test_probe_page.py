"""The probe page in real browsers: the lab calls into a page as soon as probe.js has run, before the page has loaded."""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Iterable, Iterator, List

import pytest

from lab.browsers.base import Candidate
from lab.frontend import PAGE_HTML, PAGE_PATH, PREFIX, frontend_app
from lab.servers import OriginServer

pytestmark = pytest.mark.browser

BODY_DELAY_S = 1.5


def slow_page_app(environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The lab's page, whose body arrives BODY_DELAY_S after its head (probe.js has run by then); and /data, which
    any origin may read."""
    path = environ.get("PATH_INFO", "")
    if path == PAGE_PATH:
        head, body = PAGE_HTML.split(b"<body>")
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")])

        def stream() -> Iterator[bytes]:
            yield head + b" " * 2048  # enough bytes for the browser to parse the head and run probe.js now
            time.sleep(BODY_DELAY_S)
            yield b"<body>" + body

        return stream()
    if path.startswith(PREFIX):
        return frontend_app(environ, start_response)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Access-Control-Allow-Origin", "*")])
    return [b"data"]


@pytest.fixture
def slow_page() -> Iterator[str]:
    server = OriginServer(slow_page_app)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def test_a_sandboxed_case_called_before_the_body_exists_still_runs(browsers: List[Candidate], slow_page: str) -> None:
    spec = {
        "token": "t1",
        "url": f"{slow_page}/data?cors_lab=t1",
        "method": "GET",
        "headers": {},
        "body": None,
        "credentials": "omit",
        "mode": "cors",
        "redirect": "follow",
        "read_headers": [],
        "sandboxed": True,
        "timeout_ms": 10000,
        "repeat": 1,
        "pause_ms": 0,
    }
    for candidate in browsers:
        browser = candidate.launch()
        try:
            started = time.perf_counter()
            answers = browser.page(slow_page).run([spec])
            elapsed = time.perf_counter() - started
        finally:
            browser.close()
        attempt = answers["t1"]["attempts"][-1]
        assert attempt["outcome"] == "allowed", (candidate.name, attempt)
        assert attempt["body"] == "data"
        if candidate.engine != "webkit":  # Playwright returns at commit; WebDriver waits for the load itself
            assert elapsed >= BODY_DELAY_S * 0.8, (candidate.name, "the call did not start before the body arrived")
