"""Cases flown in a browser's pages and made into rows: a page's cases in one round trip; cases that pause started
now and collected once their pauses are over. A browser that fails is restarted, and the cases it took with it are
cells that say so. Cookies are cleared after any case whose server set one.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from .driving import BrowserDriver
from .flights import Flight, by_page
from .mounting import Mounts
from .reasons import ConsoleReasons
from .results import ResultRow
from .rows import CellMaker, sets_cookie

DIED_IN_FLIGHT = "the browser died while the case was in flight"


class CasesInFlight:
    """Flies one browser's cases and collects their rows; rows that could not go out yet are held for the next."""

    def __init__(
        self,
        driver: BrowserDriver,
        cells: CellMaker,
        reasons: ConsoleReasons,
        mounts: Mounts,
        stopped: Callable[[], bool],
    ) -> None:
        self.driver = driver
        self.cells = cells
        self.reasons = reasons
        self.mounts = mounts
        self.stopped = stopped  # the run was interrupted: measure nothing more, report nothing half-measured
        self._held: List[ResultRow] = []  # cells of cases that never flew (or whose browser died): out with the next

    @property
    def waiting(self) -> bool:
        """Whether a paused case is out (a case that must run alone waits for it)."""
        return bool(self.driver.deferred)

    def hold(self, rows: List[ResultRow]) -> None:
        """Rows to go out with the next ones."""
        self._held += rows

    def take_held(self) -> List[ResultRow]:
        held, self._held = self._held, []
        return held

    def fly(self, flights: List[Flight]) -> List[ResultRow]:
        """Start cases that share a page and wait for them, in one round trip."""
        if not self.driver.running:
            return [self._finish(f, None, self.driver.not_running(), 0.0) for f in flights]
        page_url = flights[0].page_url
        started = time.perf_counter()
        answers, failure = self.driver.run(page_url, flights)
        if failure is not None and self.stopped():
            return []
        elapsed_ms = (time.perf_counter() - started) * 1000
        rows = [self._finish(f, answers.get(f.token), failure, elapsed_ms) for f in flights]
        if failure is not None:
            self._restart_browser()
        return self.reasons.attach(rows, self.driver.pages([page_url]))

    def start(self, flights: Sequence[Flight]) -> None:
        """Start the cases that pause; they are collected when their pauses are over."""
        for page_url, on_page in by_page(flights).items():
            if not self.driver.running:
                self._held += [self._finish(f, None, self.driver.not_running(), 0.0) for f in on_page]
                continue
            failure = self.driver.start(page_url, on_page)
            if failure is None:
                continue
            if self.stopped():
                return
            self._held += [self._finish(f, None, failure, 0.0) for f in on_page]
            self._restart_browser()

    def collect(self, due_only: bool) -> List[ResultRow]:
        """Rows of paused cases whose pauses are over (or of all of them), waiting for those still fetching."""
        if self.stopped():  # interrupted: cases still out are not measured (a --resume run measures them)
            return self.take_held()
        due = by_page(self.driver.take_due(due_only))
        if not due:
            return self.take_held()
        rows: List[ResultRow] = []
        died: Optional[str] = None  # once the browser failed, the cases of the other pages died with it
        for page_url, flights in due.items():
            failure = died or (None if self.driver.running else self.driver.not_running())
            answers: Dict[str, Any] = {}
            if failure is None:
                answers, failure = self.driver.results(page_url, flights)
                if failure is not None:
                    if self.stopped():
                        return rows
                    died = failure
            rows += [self._finish(f, answers.get(f.token), failure, 0.0) for f in flights]
        if died is not None:
            self._restart_browser()
        return self.reasons.attach(rows, self.driver.pages(list(due))) + self.take_held()

    def _finish(
        self, flight: Flight, answer: Optional[Dict[str, Any]], failure: Optional[str], elapsed_ms: float
    ) -> ResultRow:
        """The case's cell; its scenario may be detached once its last case is in."""
        row = self.cells.row(flight, answer, failure, elapsed_ms)
        if sets_cookie(row):
            self.driver.clear_cookies(flight.mounted.urls.values())
        self.mounts.case_done(flight.mounted)
        return row

    def _restart_browser(self) -> None:
        """Replace a browser that died; cases still in flight in it are lost, and say so."""
        for flight in list(self.driver.deferred):
            self._held.append(self._finish(flight, None, DIED_IN_FLIGHT, 0.0))
        self.driver.abandon()
        self.driver.relaunch()
