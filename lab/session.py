"""One launched browser with its origin servers and router, measuring cases.

`cors-lab run` keeps a session per browser instance for the whole run; the pytest
plugin keeps one per browser in each pytest worker. Either way a browser launches
once, however many cases it measures.

A session takes scenarios in windows (schedule.py says which cases run together),
attaches each to its servers (mounting.py), and flies their cases in its browser's
pages (windows.py, flying.py, driving.py), which makes them into rows (rows.py,
reasons.py).
"""

from __future__ import annotations

import random
import threading
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple

from .browsers.base import BrowserInfo, Candidate, Routing
from .browsers.spaces import Spaces, unsupported_reason
from .driving import BrowserDriver
from .flights import Tokens
from .flying import CasesInFlight
from .mounting import Mounts
from .options import RunOptions
from .placement import place
from .reasons import ConsoleReasons
from .results import ResultRow
from .routing import Asked, Router
from .rows import CellMaker
from .scenario.model import Case, Scenario
from .schedule import Plan, ordered, scheduled, shares_cookies, window_full
from .servers import OriginPool, lab_assigned_names
from .windows import WindowRunner

__all__ = ["BrowserSession", "scheduled"]  # scheduled: the order lives in schedule.py; kept here for its callers


class BrowserSession:
    """A browser the lab launched (or will launch), with its own servers and router.

    `options`: timeout, bind address, host suffix, cells to skip, one_at_a_time."""

    def __init__(
        self,
        candidate: Candidate,
        options: RunOptions,
        slot: str,
        scenarios: Sequence[Scenario] = (),
        on_launch: Callable[[BrowserInfo], None] = lambda info: None,
        stop: Optional[threading.Event] = None,
    ) -> None:
        self.candidate = candidate
        self.options = options
        self.slot = slot
        # Set when the run is interrupted: measure nothing more (run_lab hands every session the run's own event).
        self.stop = stop if stop is not None else threading.Event()
        self.stopping = threading.Event()  # set to release hung routes so that in-flight cases finish now
        # Each browser the lab launches gets its own router: origins served as written map to this session's servers.
        self.router = Router() if candidate.routable else None
        self.pool = OriginPool(options.bind, options.host_suffix, self.router)
        self.routing: Optional[Routing] = None
        if self.router is not None:  # lab-assigned names are reached directly; origins' spaces are told at launch
            bypass = tuple(lab_assigned_names(scenarios, options.host_suffix))
            self.routing = Routing(self.router.address, bypass, place(self.pool, scenarios, candidate.engine))
        self.driver = BrowserDriver(candidate, self.routing, on_launch)
        self.mounts = Mounts(self.pool, slot)
        self.cells = CellMaker(candidate, self.pool)
        reasons = ConsoleReasons(candidate.engine, candidate.silent)
        self.flying = CasesInFlight(self.driver, self.cells, reasons, self.mounts, self.stopped)
        self.windows = WindowRunner(self.flying, Tokens(options.timeout_s), self.stopped)

    def stopped(self) -> bool:
        """Whether the run was interrupted (read at each step, so that `stop` may be replaced)."""
        return self.stop.is_set()

    def launch(self) -> BrowserInfo:
        """Start the browser; raises what the launcher raises."""
        return self.driver.launch()

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
            if self.stopped():
                break
            plan = self._plan(scenario, backend, None, rng)
            if plan is not None:
                (window if plan.together else alone).append(plan)
            if window and (window_full(window, self.driver.pages_kept()) or (alone and not self.flying.waiting)):
                yield from self.windows.run_window(window)
                window = []
            yield from self.flying.collect(due_only=True)
            while alone and not self.flying.waiting and not self.stopped():
                yield from self.windows.run_alone(alone.pop(0))
        yield from self.windows.run_window(window)
        yield from self.flying.collect(due_only=False)
        for plan in alone:
            if self.stopped():
                break
            yield from self.windows.run_alone(plan)

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
            rows += self.windows.run_window([plan]) if plan.together else self.windows.run_alone(plan)
        return rows + self.flying.collect(due_only=False)

    def close(self) -> List[Asked]:
        """Stop the servers, the browser and the router; what the browser asked the router (and the gateways) for."""
        self.stopping.set()
        gateways = self.pool.gateways_asked()
        self.pool.close()
        self.driver.close()
        if self.router is None:
            return []
        asked = self.router.asked() + gateways
        self.router.close()
        return asked

    def _unsupported(self, scenario: Scenario, case: Case) -> Optional[str]:
        """Why this browser cannot measure the case as its address spaces say, or None."""
        spaces = self.routing.spaces if self.routing is not None else Spaces()
        return unsupported_reason(self.candidate, scenario, case, spaces)

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
        unsupported = [(c, self._unsupported(scenario, c)) for c in cases]
        if any(why for _, why in unsupported):
            self.flying.hold([self.cells.unsupported_row(scenario, c, backend, why) for c, why in unsupported if why])
            cases = [c for c, why in unsupported if not why]
        if not cases:
            return None
        mounted = self.mounts.attach(scenario, backend, self.stopping)
        if mounted.failure:
            self.flying.hold(
                [self.error_row(scenario, c, backend, mounted.failure, mounted.start_failure) for c in cases]
            )
            self.mounts.release(mounted)
            return None
        mounted.in_flight += len(cases)  # reserved: the scenario stays attached until its last case is collected
        together = not (self.options.one_at_a_time or shares_cookies(scenario))
        return Plan(mounted, ordered(cases, rng), together)
