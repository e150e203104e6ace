"""One launched browser with its origin servers and router, measuring cases.

`cors-lab run` keeps a session per browser instance for the whole run; the pytest
plugin keeps one per browser in each pytest worker. Either way a browser launches
once, however many cases it measures.

Cases run in flight together where they cannot affect each other: every case
fetches URLs with its own token (no shared cache entry, and the servers tell the
cases' requests apart by it), so the cases of a scenario on one page start together
in one round trip. A case that waits (repeats with a pause) runs its pauses in the
page and is collected later, its scenario still attached, while the next scenarios
run: nothing sleeps on the critical path. Cookies are the exception: the cases of a
scenario whose server may set a cookie run one at a time with nothing else in
flight, and cookies are cleared after any case whose server set one.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .browsers.base import Browser, BrowserInfo, Candidate, Page, Routing
from .flights import Flight, Tokens, by_page
from .mounting import Mounted, Mounts
from .options import RunOptions
from .reasons import ConsoleReasons
from .results import ResultRow
from .routing import Asked, Router
from .rows import CellMaker, sets_cookie
from .scenario.model import Case, Scenario
from .schedule import Plan, ordered, scheduled, shares_cookies, waits, window_full
from .servers import OriginPool

__all__ = ["BrowserSession", "scheduled"]  # scheduled: the order lives in schedule.py; kept here for its callers


class BrowserSession:
    """A browser the lab launched (or will launch), with its own servers and router.

    `options`: timeout, bind address, host suffix, cells to skip, one_at_a_time."""

    def __init__(
        self,
        candidate: Candidate,
        options: RunOptions,
        slot: str,
        bypass: Sequence[str] = (),
        on_launch: Callable[[BrowserInfo], None] = lambda info: None,
    ) -> None:
        self.candidate = candidate
        self.options = options
        self.slot = slot
        self.on_launch = on_launch
        self.stop = threading.Event()  # set when the run is interrupted: measure nothing more
        self.stopping = threading.Event()  # set to release hung routes so that in-flight cases finish now
        # Each browser the lab launches gets its own router: origins served as written map to this session's servers.
        self.router = Router() if candidate.routable else None
        self.routing = Routing(self.router.address, tuple(bypass)) if self.router is not None else None
        self.pool = OriginPool(options.bind, options.host_suffix, self.router)
        self.browser: Optional[Browser] = None
        self.launch_failure = ""
        self.mounts = Mounts(self.pool, slot)
        self.tokens = Tokens(options.timeout_s)
        self.cells = CellMaker(candidate, self.pool)
        self.reasons = ConsoleReasons(candidate.engine)
        self._deferred: List[Flight] = []
        self._lost: List[ResultRow] = []  # deferred cases whose browser died: reported with the next rows

    def launch(self) -> BrowserInfo:
        """Start the browser; raises what the launcher raises."""
        self.browser = self.candidate.launch(routing=self.routing)
        self.on_launch(self.browser.info)
        return self.browser.info

    def error_row(
        self, scenario: Scenario, case: Case, backend: Any, reason: str, start_failure: bool = False
    ) -> ResultRow:
        """A cell the lab could not measure: the reason says why (see CellMaker.error_row)."""
        return self.cells.error_row(scenario, case, backend, reason, start_failure)

    def run(self, items: Iterable[Tuple[Scenario, Any]], rng: Optional[random.Random] = None) -> Iterable[ResultRow]:
        """Rows of every case of every (scenario, pin) item, as they are measured; cases that pause come later.

        Scenarios are taken in windows: their cases are grouped by page across the window and each page runs its
        group in one round trip. A scenario that may set cookies runs alone, once no other case is in flight: it
        waits (the others go on) while a paused case is out."""
        window: List[Plan] = []
        alone: List[Plan] = []  # waiting until no paused case is in flight (never waiting for a pause)
        for scenario, backend in items:
            if self.stop.is_set():
                break
            plan = self._plan(scenario, backend, None, rng)
            if plan is not None:
                (window if plan.together else alone).append(plan)
            if window and (window_full(window, self._pages_kept()) or (alone and not self._deferred)):
                yield from self._run_window(window)
                window = []
            yield from self._collect(due_only=True)
            while alone and not self._deferred and not self.stop.is_set():
                yield from self._run_alone(alone.pop(0))
        yield from self._run_window(window)
        yield from self._collect(due_only=False)
        for plan in alone:
            if self.stop.is_set():
                break
            yield from self._run_alone(plan)

    def measure(
        self,
        scenario: Scenario,
        backend: Any,
        cases: Optional[Sequence[Case]] = None,
        rng: Optional[random.Random] = None,
    ) -> List[ResultRow]:
        """Rows for `cases` (default: every case not in options.skip) of one scenario under one backend, all collected."""
        plan = self._plan(scenario, backend, cases, rng)
        rows: List[ResultRow] = []
        if plan is not None:
            rows += self._run_window([plan]) if plan.together else self._run_alone(plan)
        return rows + self._collect(due_only=False)

    def close(self) -> List[Asked]:
        """Stop the servers, the browser and the router; what the browser asked the router for."""
        self.stopping.set()
        self.pool.close()
        if self.browser is not None:
            self.browser.close()
            self.browser = None
        if self.router is None:
            return []
        self.router.close()
        return self.router.asked()

    # -- planning ---------------------------------------------------------------------------------------------------

    def _plan(
        self, scenario: Scenario, backend: Any, cases: Optional[Sequence[Case]], rng: Optional[random.Random]
    ) -> Optional[Plan]:
        """Attach the scenario and decide how its cases run; None when there is nothing to run (cases already
        measured, or error rows for a backend that did not start, which go out with the next rows)."""
        if cases is None:
            cases = [
                c
                for c in scenario.cases
                if (scenario.id, c.name, self.candidate.name, backend.label) not in self.options.skip
            ]
        if not cases:
            return None
        mounted = self.mounts.attach(scenario, backend, self.stopping)
        if mounted.failure:
            self._lost += [self.error_row(scenario, c, backend, mounted.failure, mounted.start_failure) for c in cases]
            self.mounts.release(mounted)
            return None
        mounted.in_flight += len(cases)  # reserved: the scenario stays attached until its last case is collected
        together = not (self.options.one_at_a_time or shares_cookies(scenario))
        return Plan(mounted, ordered(cases, rng), together)

    def _pages_kept(self) -> int:
        """A window needs no more page origins than the browser keeps pages (one spare for a paused case's page)."""
        return self.browser.max_pages if self.browser is not None else Browser.max_pages

    # -- running --------------------------------------------------------------------------------------------------

    def _run_window(self, window: List[Plan]) -> List[ResultRow]:
        """The cases of these scenarios: those that pause are started and collected later; the others are grouped by
        page, and each page runs its group in one round trip."""
        rows: List[ResultRow] = []
        by_page: Dict[str, List[Flight]] = {}
        for plan in window:
            later = [c for c in plan.cases if waits(c)]
            self._start_deferred(plan.mounted, later)
            for case in plan.cases:
                if case not in later:
                    flight = self.tokens.flight(plan.mounted, case)
                    by_page.setdefault(flight.page_url, []).append(flight)
        for flights in by_page.values():
            if self.stop.is_set():
                break
            rows += self._fly(flights)
        return rows + self._take_lost()

    def _run_alone(self, plan: Plan) -> List[ResultRow]:
        """Each case by itself, with nothing else in flight (its server may set cookies, or one at a time was asked)."""
        rows = self._collect(due_only=False)
        for case in plan.cases:
            if self.stop.is_set():
                break
            rows += self._fly([self.tokens.flight(plan.mounted, case)])
        return rows + self._take_lost()

    def _busy_pages(self) -> List[str]:
        return [flight.page_url for flight in self._deferred]

    def _fly(self, flights: List[Flight]) -> List[ResultRow]:
        """Start cases that share a page and wait for them, in one round trip."""
        if self.browser is None:
            return [self._finish(f, None, self._not_running(), 0.0) for f in flights]
        page_url = flights[0].page_url
        started = time.perf_counter()
        try:
            answers = self.browser.page(page_url, keep=self._busy_pages()).run([f.spec for f in flights])
            failure = None
        except Exception as exc:
            if self.stop.is_set():
                return []
            answers, failure = {}, self._failure(exc)
        elapsed_ms = (time.perf_counter() - started) * 1000
        rows = [self._finish(f, answers.get(f.spec["token"]), failure, elapsed_ms) for f in flights]
        if failure is not None:
            self._restart_browser()
        return self.reasons.attach(rows, self._pages([page_url]))

    def _start_deferred(self, mounted: Mounted, cases: Sequence[Case]) -> None:
        """Start the cases that pause; they are collected when their pauses are over."""
        for page_url, flights in by_page(self.tokens.paused(mounted, cases)).items():
            if self.browser is None:
                self._lost += [self._finish(f, None, self._not_running(), 0.0) for f in flights]
                continue
            try:
                self.browser.page(page_url, keep=self._busy_pages()).start([f.spec for f in flights])
            except Exception as exc:
                if self.stop.is_set():
                    return
                self._lost += [self._finish(f, None, self._failure(exc), 0.0) for f in flights]
                self._restart_browser()
                continue
            self._deferred += flights

    def _collect(self, due_only: bool) -> List[ResultRow]:
        """Rows of deferred cases whose pauses are over (or of all of them), waiting for those still fetching."""
        if self.stop.is_set():  # interrupted: cases still out are not measured (a --resume run measures them)
            return self._take_lost()
        now = time.perf_counter()
        due = [f for f in self._deferred if not due_only or f.ready_at <= now]
        if not due:
            return self._take_lost()
        self._deferred = [f for f in self._deferred if f not in due]
        due_pages = by_page(due)
        rows: List[ResultRow] = []
        died: Optional[str] = None  # once the browser failed, the cases of the other pages died with it
        for page_url, flights in due_pages.items():
            failure = died or (self._not_running() if self.browser is None else None)
            answers: Dict[str, Any] = {}
            if failure is None:
                try:
                    longest = max(f.spec["timeout_ms"] * f.spec["repeat"] for f in flights)
                    answers = self.browser.page(page_url, keep=self._busy_pages()).results(
                        [f.spec["token"] for f in flights], longest
                    )
                except Exception as exc:
                    if self.stop.is_set():
                        return rows
                    failure = died = self._failure(exc)
            rows += [self._finish(f, answers.get(f.spec["token"]), failure, 0.0) for f in flights]
        if died is not None:
            self._restart_browser()
        return self.reasons.attach(rows, self._pages(list(due_pages))) + self._take_lost()

    def _take_lost(self) -> List[ResultRow]:
        lost, self._lost = self._lost, []
        return lost

    def _not_running(self) -> str:
        """Why a case could not start: the browser could not be (re)launched."""
        return self.launch_failure or "the browser is not running"

    @staticmethod
    def _failure(exc: Exception) -> str:
        return f"browser failed during the case: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"

    def _finish(
        self, flight: Flight, answer: Optional[Dict[str, Any]], failure: Optional[str], elapsed_ms: float
    ) -> ResultRow:
        """The case's cell; its scenario may be detached once its last case is in."""
        row = self.cells.row(flight, answer, failure, elapsed_ms)
        if self.browser is not None and sets_cookie(row):
            self.browser.clear_cookies(sorted(set(flight.mounted.urls.values())))
        self.mounts.case_done(flight.mounted)
        return row

    def _pages(self, page_urls: Sequence[str]) -> List[Page]:
        if self.browser is None:
            return []
        busy = self._busy_pages()
        return [
            self.browser.page(url, keep=busy) for url in dict.fromkeys(page_urls) if url in self.browser.open_pages()
        ]

    def _restart_browser(self) -> None:
        """Replace a browser that died; cases still in flight in it are lost, and say so. If it cannot come back,
        later cells say why."""
        for flight in self._deferred:
            self._lost.append(self._finish(flight, None, "the browser died while the case was in flight", 0.0))
        self._deferred = []
        if self.browser is not None:
            self.browser.close()
        self.browser = None
        try:
            self.launch()
        except Exception as exc:
            self.launch_failure = f"browser could not be restarted: {exc}"
