"""`cors-lab bench`: the lab's per-case cost against plain Playwright on the same fetches.

For each browser, on the same machine and the same backends:
- lab:   `run_lab` (recording, classification, cookie hygiene, console capture);
- loop:  plain Playwright (or plain WebDriver for WebDriver browsers), one evaluate
         (execute_async) of fetch per case, one page per origin;
- floor: every case of a scenario inside one `evaluate`, one after another.
Browser launch is excluded from all three; first page opens are included in all three.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .backend import TOKEN_PARAM, build_app
from .backend.template import fill
from .browsers.base import BrowserInfo, Candidate
from .browsers.playwright import launch_options
from .browsers.webdriver import WebDriverBrowser
from .frontend import PAGE_PATH
from .results import ResultRow
from .run import RunOptions, Sink, run_lab
from .scenario.model import Case, Scenario
from .servers import OriginPool

FETCH_ONE = """([url, init]) => fetch(url, init).then(r => r.text().then(() => r.status), e => String(e))"""
FETCH_ALL = """async (calls) => { const out = [];
  for (const [url, init] of calls) out.push(await fetch(url, init).then(r => r.text().then(() => r.status), e => String(e)));
  return out; }"""


@dataclass(frozen=True)
class Measurement:
    browser: str
    cases: int
    lab_s: float
    loop_s: float
    floor_s: float

    def lines(self) -> List[str]:
        per = lambda seconds: f"{seconds:.2f} s ({seconds / self.cases * 1000:.1f} ms/case)"  # noqa: E731
        return [f"{self.browser}: {self.cases} cases; lab {per(self.lab_s)}, loop {per(self.loop_s)}, floor {per(self.floor_s)}"]

    def ratios(self) -> str:
        return f"{self.browser}: lab/loop={self.lab_s / self.loop_s:.2f} lab/floor={self.lab_s / self.floor_s:.2f}"


class _Clock(Sink):
    def __init__(self) -> None:
        self.ready = 0.0
        self.last = 0.0

    def browser_ready(self, info: BrowserInfo) -> None:
        self.ready = time.perf_counter()

    def row(self, row: ResultRow) -> None:
        self.last = time.perf_counter()


def _time_lab(scenarios: Sequence[Scenario], candidate: Candidate, timeout_s: float) -> float:
    clock = _Clock()
    run_lab(scenarios, [candidate], RunOptions(timeout_s), clock)
    return clock.last - clock.ready


def _init(case: Case, urls: Dict[str, str]) -> Dict[str, Any]:
    init: Dict[str, Any] = {"method": case.method, "headers": fill(case.headers, urls), "credentials": case.credentials,
                            "mode": case.mode, "redirect": case.redirect}
    if case.body is not None:
        init["body"] = case.body
    return init


Calls = Dict[str, List[Tuple[str, Dict[str, Any]]]]


def _scenario_calls(scenarios: Sequence[Scenario]):  # type: ignore[no-untyped-def]
    """Serve each scenario in turn and yield its fetches grouped by page origin."""
    pool, stopping = OriginPool(), threading.Event()
    serial = 0
    try:
        for scenario in scenarios:
            urls = {name: pool.url(origin) for name, origin in scenario.origins.items()}
            try:
                pool.mount(build_app(scenario, urls, stopping))
            except Exception:
                continue
            calls: Calls = {}
            for case in scenario.cases:
                serial += 1
                separator = "&" if "?" in case.path else "?"
                url = f"{urls[case.target]}{case.path}{separator}{TOKEN_PARAM}=bench-{serial}"
                calls.setdefault(urls[case.page], []).append((url, _init(case, urls)))
            yield calls
    finally:
        stopping.set()
        pool.close()


def _time_playwright(scenarios: Sequence[Scenario], candidate: Candidate, batched: bool) -> float:
    """Plain Playwright: one evaluate per case (or per scenario and page), one page per origin."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = getattr(playwright, candidate.engine).launch(
            **launch_options(candidate.engine, candidate.executable if candidate.system_binary else None))
        context = browser.new_context()
        pages: Dict[str, Any] = {}
        started = time.perf_counter()
        for calls in _scenario_calls(scenarios):
            for origin, origin_calls in calls.items():
                if origin not in pages:
                    pages[origin] = context.new_page()
                    pages[origin].goto(origin + PAGE_PATH)
                if batched:
                    pages[origin].evaluate(FETCH_ALL, origin_calls)
                else:
                    for call in origin_calls:
                        pages[origin].evaluate(FETCH_ONE, list(call))
            context.clear_cookies()
        elapsed = time.perf_counter() - started
        browser.close()
    return elapsed


def _time_webdriver(scenarios: Sequence[Scenario], candidate: Candidate, batched: bool) -> float:
    """Plain WebDriver: one execute_async per case (or per scenario and page), one window per origin."""
    browser = candidate.launch()
    assert isinstance(browser, WebDriverBrowser)
    client = browser.client
    handles: Dict[str, str] = {}
    fresh: Optional[str] = client.session("GET", "/window")
    started = time.perf_counter()
    try:
        for calls in _scenario_calls(scenarios):
            for origin, origin_calls in calls.items():
                if origin not in handles:
                    handles[origin] = fresh or client.session("POST", "/window/new", {"type": "tab"})["handle"]
                    fresh = None
                    client.session("POST", "/window", {"handle": handles[origin]})
                    client.session("POST", "/url", {"url": origin + PAGE_PATH})
                else:
                    client.session("POST", "/window", {"handle": handles[origin]})
                if batched:
                    client.session("POST", "/execute/async", {"script": ASYNC.format(FETCH_ALL), "args": [origin_calls]})
                else:
                    for call in origin_calls:
                        client.session("POST", "/execute/async", {"script": ASYNC.format(FETCH_ONE), "args": [list(call)]})
        return time.perf_counter() - started
    finally:
        browser.close()


ASYNC = "const done = arguments[arguments.length - 1]; ({})(arguments[0]).then(done);"


def _time_plain(scenarios: Sequence[Scenario], candidate: Candidate, batched: bool) -> float:
    timer = _time_webdriver if candidate.driver.startswith("webdriver") else _time_playwright
    return timer(scenarios, candidate, batched)


def measure(scenarios: Sequence[Scenario], candidate: Candidate, timeout_s: float = 10.0) -> Measurement:
    """Lab, loop and floor for one browser, measured back to back."""
    return Measurement(
        browser=candidate.name,
        cases=sum(len(s.cases) for s in scenarios),
        lab_s=_time_lab(scenarios, candidate, timeout_s),
        loop_s=_time_plain(scenarios, candidate, batched=False),
        floor_s=_time_plain(scenarios, candidate, batched=True),
    )
