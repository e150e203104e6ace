"""`cors-lab bench`: the lab's per-case cost against plain Playwright on the same fetches.

For each browser, on the same machine and the same backends:
- lab:   `run_lab` (recording, classification, cookie hygiene, console capture);
- loop:  plain Playwright, one `page.evaluate(fetch)` per case, one page per origin;
- floor: every case of a scenario inside one `evaluate`, one after another.
Browser launch is excluded from all three; first page opens are included in all three.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

from .backend import TOKEN_PARAM, build_app
from .backend.template import fill
from .browsers.base import BrowserInfo, Candidate
from .browsers.playwright import launch_options
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


def _time_plain(scenarios: Sequence[Scenario], candidate: Candidate, batched: bool) -> float:
    """Plain Playwright over the same backends: one evaluate per case, or one per scenario and page."""
    from playwright.sync_api import sync_playwright

    pool, stopping = OriginPool(), threading.Event()
    serial = 0
    with sync_playwright() as playwright:
        browser = getattr(playwright, candidate.engine).launch(
            **launch_options(candidate.engine, candidate.executable if candidate.system_binary else None))
        context = browser.new_context()
        pages: Dict[str, Any] = {}
        started = time.perf_counter()
        for scenario in scenarios:
            urls = {name: pool.url(origin) for name, origin in scenario.origins.items()}
            try:
                pool.mount(build_app(scenario, urls, stopping))
            except Exception:
                continue
            calls: Dict[str, List[Tuple[str, Dict[str, Any]]]] = {}
            for case in scenario.cases:
                serial += 1
                separator = "&" if "?" in case.path else "?"
                url = f"{urls[case.target]}{case.path}{separator}{TOKEN_PARAM}=bench-{serial}"
                calls.setdefault(urls[case.page], []).append((url, _init(case, urls)))
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
    stopping.set()
    pool.close()
    return elapsed


def measure(scenarios: Sequence[Scenario], candidate: Candidate, timeout_s: float = 10.0) -> Measurement:
    """Lab, loop and floor for one browser, measured back to back."""
    return Measurement(
        browser=candidate.name,
        cases=sum(len(s.cases) for s in scenarios),
        lab_s=_time_lab(scenarios, candidate, timeout_s),
        loop_s=_time_plain(scenarios, candidate, batched=False),
        floor_s=_time_plain(scenarios, candidate, batched=True),
    )
