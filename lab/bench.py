"""`cors-lab bench`: what the lab costs against plain code making the very same fetches.

For each browser, launched the same way (the lab's routing for origins served as
written, its run-time CA for https), on the same backends, with the same in-page
probe (probe.js): the same fetches, repeats and pauses, sandboxed frames and https
origins in all three.
- lab:   `run_lab`: recording, classification, cookie hygiene, console capture, reports' rows;
- loop:  a plain loop: a page per origin, one evaluate (execute_async) per case, one case at a time;
- floor: the least a driver can do: each page origin loaded once (in the lab's eight pages, as
         navigations), and all of its cases in one evaluate, in flight together.
Browser launch is excluded from all three; page opens are included in all three.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .backend import build_app
from .browsers.base import Browser, BrowserInfo, Candidate, Routing
from .browsers.spaces import Spaces, unsupported_reason
from .flights import case_page, probe_spec
from .options import RunOptions
from .placement import place
from .results import ResultRow
from .routing import Router
from .run import Sink, run_lab
from .scenario.model import Case, Scenario
from .servers import OriginPool, lab_assigned_names

ALL_PAGES = 256
"""The loop keeps a page per origin (plain code does); the lab and the floor keep eight and navigate them."""


@dataclass(frozen=True)
class Measurement:
    browser: str
    cases: int
    lab_s: float
    loop_s: float
    floor_s: float

    def lines(self) -> List[str]:
        per = lambda seconds: f"{seconds:.2f} s ({seconds / self.cases * 1000:.1f} ms/case)"  # noqa: E731
        return [
            f"{self.browser}: {self.cases} cases; lab {per(self.lab_s)}, loop {per(self.loop_s)}, floor {per(self.floor_s)}"
        ]

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


Fetches = List[Tuple[str, Dict[str, Any]]]  # (page origin, probe spec), in library order


def _serve_library(
    scenarios: Sequence[Scenario],
    pool: OriginPool,
    stopping: threading.Event,
    timeout_s: float,
    runs: Callable[[Scenario, Case], bool] = lambda scenario, case: True,
) -> Fetches:
    """Every scenario's backend attached at once (its cases' tokens name it), and the fetch of every case the
    browser `runs` (not those it cannot be told how to: the lab does not run them either), in the page the lab
    would run it in."""
    fetches: Fetches = []
    for number, scenario in enumerate(scenarios):
        urls = pool.urls(scenario.origins)
        try:
            app = build_app(scenario, urls, stopping)
        except Exception:
            continue  # a backend that does not build: the lab's cells say so at once, and nothing is fetched
        key = f"b{number}"
        pool.attach(key, app)
        for index, case in enumerate(scenario.cases):
            if runs(scenario, case):
                page, prompts = case_page(scenario, case, urls)
                fetches.append((page, probe_spec(case, urls, f"{key}.{index}", timeout_s, prompts)))
    return fetches


def _time_plain(
    scenarios: Sequence[Scenario], candidate: Candidate, timeout_s: float, together: bool
) -> Tuple[float, int]:
    """The loop (one case per call) or the floor (one call per page origin), in the browser launched as the lab
    launches it: the seconds, and how many cases were fetched (those this browser can be told how to run)."""
    router = Router() if candidate.routable else None
    pool, stopping = OriginPool(router=router), threading.Event()
    browser: Optional[Browser] = None
    try:
        spaces = place(pool, scenarios, candidate.engine) if router is not None else Spaces()
        browser = candidate.launch(
            routing=Routing(router.address, tuple(lab_assigned_names(scenarios)), spaces)
            if router is not None
            else None
        )
        if not together:
            browser.max_pages = ALL_PAGES
        fetches = _serve_library(
            scenarios, pool, stopping, timeout_s, lambda s, c: unsupported_reason(candidate, s, c, spaces) is None
        )
        started = time.perf_counter()
        if together:
            by_page: Dict[str, List[Dict[str, Any]]] = {}
            for page_url, spec in fetches:
                by_page.setdefault(page_url, []).append(spec)
            for page_url, specs in by_page.items():
                browser.page(page_url).run(specs)
        else:
            for page_url, spec in fetches:
                browser.page(page_url).run([spec])
        return time.perf_counter() - started, len(fetches)
    finally:
        stopping.set()
        if browser is not None:
            browser.close()
        pool.close()
        if router is not None:
            router.close()


def measure(scenarios: Sequence[Scenario], candidate: Candidate, timeout_s: float = 10.0) -> Measurement:
    """Lab, loop and floor for one browser, measured back to back."""
    lab_s = _time_lab(scenarios, candidate, timeout_s)
    loop_s, cases = _time_plain(scenarios, candidate, timeout_s, together=False)
    floor_s, _ = _time_plain(scenarios, candidate, timeout_s, together=True)
    return Measurement(browser=candidate.name, cases=cases, lab_s=lab_s, loop_s=loop_s, floor_s=floor_s)
