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
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .backend import TOKEN_PARAM, BackendBuildError, Recorder
from .backend.template import fill
from .browsers.base import Browser, BrowserInfo, Candidate, ConsoleMessage, Page, Routing
from .cell import SILENT_ENGINES, browser_reason, cell_row, classify
from .options import RunOptions
from .results import ResultRow
from .routing import Asked, Router
from .scenario.model import Case, Scenario, split_expectation
from .servers import OriginPool, origin_keys


def ordered(items: Sequence[Any], rng: Optional[random.Random]) -> List[Any]:
    """The items, shuffled when a seed was given (results must not depend on the order)."""
    result = list(items)
    if rng is not None:
        rng.shuffle(result)
    return result


DEFER_PAUSE_MS = 500
"""A case that pauses at least this long between repeats is collected later, not waited for."""
WINDOW_CASES = 48
WINDOW_SCENARIOS = 16
"""A window of scenarios whose cases run together: at most this many cases, scenarios, and pages (see _window_full)."""
KEPT_MESSAGES = 2000
"""Console messages kept for cases still in flight (they name their token); older ones are dropped."""


def probe_spec(case: Case, urls: Dict[str, str], token: str, timeout_s: float) -> Dict[str, Any]:
    """What the page's probe gets for one case (window.corsLabStart): the URL carries the case's token, and the
    token's first part (before the dot) names the attached scenario the servers dispatch to."""
    separator = "&" if "?" in case.path else "?"
    return {
        "token": token,
        "url": f"{urls[case.target]}{case.path}{separator}{TOKEN_PARAM}={token}",
        "method": case.method,
        "headers": fill(case.headers, urls),
        "body": case.body,
        "credentials": case.credentials,
        "mode": case.mode,
        "redirect": case.redirect,
        "read_headers": list(case.read_headers),
        "sandboxed": case.sandboxed,
        "timeout_ms": int(timeout_s * 1000),
        "repeat": case.repeat,
        "pause_ms": case.pause_ms,
    }


def waits(case: Case) -> bool:
    """A case that repeats after a pause long enough to be collected later rather than waited for."""
    return case.repeat > 1 and case.pause_ms >= DEFER_PAUSE_MS


def pause_of(scenario: Scenario) -> int:
    """How long the scenario's longest paused case waits (ms): such scenarios start first, so that nothing waits for
    their pauses at the end of a run."""
    return max((c.pause_ms * (c.repeat - 1) for c in scenario.cases if waits(c)), default=0)


def scheduled(items: Sequence[Tuple[Scenario, Any]]) -> List[Tuple[Scenario, Any]]:
    """(scenario, pin) items in the order a session measures them: those with paused cases first (longest pause
    first), then the others grouped by the page origins their cases use, each group where its first item was. A page
    then loads its origin once rather than once per visit (a load costs Firefox about 0.3 s of CPU, a case a few ms);
    within a group, and between groups, the given (perhaps shuffled) order holds."""
    signature = {id(scenario): _page_origins(scenario) for scenario, _ in items}  # each scenario comes once per pin
    rank: Dict[Any, int] = {}
    for scenario, _ in items:
        pages = signature[id(scenario)]
        rank.setdefault(pages[0], len(rank))  # groups that share their first page origin follow each other
        rank.setdefault(pages, len(rank))

    def place(item: Tuple[Scenario, Any]) -> Tuple[int, int, int]:
        pages = signature[id(item[0])]
        return (-pause_of(item[0]), rank[pages[0]], rank[pages])

    return sorted(items, key=place)


def _page_origins(scenario: Scenario) -> Tuple[Any, ...]:
    keys = origin_keys(scenario.origins)
    return tuple(sorted({keys[case.page] for case in scenario.cases}))


def shares_cookies(scenario: Scenario) -> bool:
    """Whether the scenario's server may set a cookie (a Set-Cookie header anywhere in the backend it describes, or
    the user's own app, which may): its cases then run one at a time, with nothing else in flight."""
    return scenario.backend.app is not None or "set-cookie" in repr(scenario.backend).lower()


@dataclass
class _Mounted:
    """A scenario attached to the session's origin servers, under its own key (the first part of its tokens)."""

    key: str
    slot: str  # the backend's slot: a pin's host process serves each attached scenario from a slot of its own
    scenario: Scenario
    backend: Any
    urls: Dict[str, str] = field(default_factory=dict)
    recorder: Optional[Recorder] = None
    failure: str = ""  # the backend or a server did not start: every case of it is this error
    start_failure: bool = False
    versions: Optional[Dict[str, str]] = None  # what the user's app runs with, told by its host (else the backend's)
    in_flight: int = 0  # cases planned and not yet collected
    detached: bool = False


@dataclass(frozen=True)
class _AppVersions:
    """The backend as expectations see it when the user's app runs with versions of its own (its environment's)."""

    label: str
    versions: Dict[str, str]


@dataclass
class _Plan:
    """A scenario attached and ready: the cases to run, and whether they may run in flight with others."""

    mounted: _Mounted
    cases: List[Case]
    together: bool


@dataclass
class _Flight:
    """A case started in a page and not yet collected."""

    mounted: _Mounted
    case: Case
    spec: Dict[str, Any]
    page_url: str
    ready_at: float  # perf_counter time by which its pauses are over


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
        self._serial = 0
        self._mounts = 0
        self._free_slots: List[str] = []
        self._current: Optional[_Mounted] = None
        self._deferred: List[_Flight] = []
        self._messages: List[ConsoleMessage] = []
        self._lost: List[ResultRow] = []  # deferred cases whose browser died: reported with the next rows

    def launch(self) -> BrowserInfo:
        """Start the browser; raises what the launcher raises."""
        self.browser = self.candidate.launch(routing=self.routing)
        self.on_launch(self.browser.info)
        return self.browser.info

    def error_row(
        self, scenario: Scenario, case: Case, backend: Any, reason: str, start_failure: bool = False
    ) -> ResultRow:
        """A cell the lab could not measure: the reason says why (never folded into `blocked`).

        It matches its expectation only when the scenario says the app must refuse to start under this pin
        (`start_error`) and the start-up error says what it should: any other error is the lab's failure."""
        engine = self.candidate.engine
        expected_text = scenario.backend.start_error_in(backend.versions)
        matched = start_failure and expected_text is not None and expected_text in reason
        expected, _ = split_expectation(scenario.expected(case, engine, backend.versions))
        return ResultRow(
            scenario.id,
            scenario.group,
            case.name,
            self.candidate.name,
            engine,
            "error",
            expected,
            matched,
            pin=backend.label,
            reason=reason,
            attacker=case.attacker,
            request={"page": case.page, "credentials": case.credentials, "sandboxed": case.sandboxed},
        )

    def run(self, items: Iterable[Tuple[Scenario, Any]], rng: Optional[random.Random] = None) -> Iterable[ResultRow]:
        """Rows of every case of every (scenario, pin) item, as they are measured; cases that pause come later.

        Scenarios are taken in windows: their cases are grouped by page across the window and each page runs its
        group in one round trip. A scenario that may set cookies runs alone, once no other case is in flight: it
        waits (the others go on) while a paused case is out."""
        window: List[_Plan] = []
        alone: List[_Plan] = []  # waiting until no paused case is in flight (never waiting for a pause)
        for scenario, backend in items:
            if self.stop.is_set():
                break
            plan = self._plan(scenario, backend, None, rng)
            if plan is not None:
                (window if plan.together else alone).append(plan)
            if window and (self._window_full(window) or (alone and not self._deferred)):
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
    ) -> Optional[_Plan]:
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
        mounted = self._attach(scenario, backend)
        if mounted.failure:
            self._lost += [self.error_row(scenario, c, backend, mounted.failure, mounted.start_failure) for c in cases]
            self._release(mounted)
            return None
        mounted.in_flight += len(cases)  # reserved: the scenario stays attached until its last case is collected
        together = not (self.options.one_at_a_time or shares_cookies(scenario))
        return _Plan(mounted, ordered(cases, rng), together)

    def _window_full(self, window: List[_Plan]) -> bool:
        pages = {p.mounted.urls[c.page] for p in window for c in p.cases}
        return (
            len(pages) >= self._pages_kept() - 1
            or sum(len(p.cases) for p in window) >= WINDOW_CASES
            or len(window) >= WINDOW_SCENARIOS
        )

    def _pages_kept(self) -> int:
        """A window needs no more page origins than the browser keeps pages (one spare for a paused case's page)."""
        return self.browser.max_pages if self.browser is not None else Browser.max_pages

    def _attach(self, scenario: Scenario, backend: Any) -> _Mounted:
        """Build the scenario's backend and attach it to the servers under a new key (reused for consecutive cases
        of the same scenario and pin, as the pytest plugin measures them)."""
        current = self._current
        if current is not None and current.scenario is scenario and current.backend is backend:
            return current
        self._mounts += 1
        slot = self._free_slots.pop() if self._free_slots else f"{self.slot}-{self._mounts}"
        mounted = self._current = _Mounted(f"m{self._mounts}", slot, scenario, backend)
        if current is not None:
            self._release(current)
        try:
            mounted.urls = self.pool.urls(scenario.origins)
        except OSError as exc:  # a port that is taken, no socket left: this scenario's cells, not the run
            mounted.failure = f"an origin server did not start: {exc}"
            return mounted
        try:
            app = backend.build(mounted.slot, scenario, mounted.urls, self.stopping)
        except BackendBuildError as exc:
            mounted.failure, mounted.start_failure = f"backend did not start: {exc}", True
            return mounted
        mounted.versions = getattr(app, "versions", None)
        mounted.recorder = Recorder(app, [(k, fill(v, mounted.urls)) for k, v in scenario.backend.proxy_headers])
        self.pool.attach(mounted.key, mounted.recorder)
        return mounted

    def _release(self, mounted: _Mounted) -> None:
        """Detach a scenario once no case of it is pending and another one has been attached since."""
        if mounted.in_flight <= 0 and mounted is not self._current and not mounted.detached:
            mounted.detached = True
            self.pool.detach(mounted.key)
            self._free_slots.append(mounted.slot)

    # -- running --------------------------------------------------------------------------------------------------

    def _run_window(self, window: List[_Plan]) -> List[ResultRow]:
        """The cases of these scenarios: those that pause are started and collected later; the others are grouped by
        page, and each page runs its group in one round trip."""
        rows: List[ResultRow] = []
        by_page: Dict[str, List[_Flight]] = {}
        for plan in window:
            later = [c for c in plan.cases if waits(c)]
            self._start_deferred(plan.mounted, later)
            for case in plan.cases:
                if case not in later:
                    url = plan.mounted.urls[case.page]
                    by_page.setdefault(url, []).append(
                        _Flight(plan.mounted, case, self._spec(plan.mounted, case), url, 0.0)
                    )
        for flights in by_page.values():
            if self.stop.is_set():
                break
            rows += self._fly(flights)
        return rows + self._take_lost()

    def _run_alone(self, plan: _Plan) -> List[ResultRow]:
        """Each case by itself, with nothing else in flight (its server may set cookies, or one at a time was asked)."""
        rows = self._collect(due_only=False)
        for case in plan.cases:
            if self.stop.is_set():
                break
            url = plan.mounted.urls[case.page]
            rows += self._fly([_Flight(plan.mounted, case, self._spec(plan.mounted, case), url, 0.0)])
        return rows + self._take_lost()

    def _spec(self, mounted: _Mounted, case: Case) -> Dict[str, Any]:
        self._serial += 1
        return probe_spec(
            case, mounted.urls, f"{mounted.key}.{self._serial}-{secrets.token_hex(3)}", self.options.timeout_s
        )

    def _busy_pages(self) -> List[str]:
        return [flight.page_url for flight in self._deferred]

    def _fly(self, flights: List[_Flight]) -> List[ResultRow]:
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
        return self._with_reasons(rows, [page_url])

    def _start_deferred(self, mounted: _Mounted, cases: Sequence[Case]) -> None:
        """Start the cases that pause; they are collected when their pauses are over."""
        by_page: Dict[str, List[_Flight]] = {}
        now = time.perf_counter()
        for case in cases:
            ready = now + case.pause_ms * (case.repeat - 1) / 1000
            flight = _Flight(mounted, case, self._spec(mounted, case), mounted.urls[case.page], ready)
            by_page.setdefault(flight.page_url, []).append(flight)
        for page_url, flights in by_page.items():
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
        by_page: Dict[str, List[_Flight]] = {}
        for flight in due:
            by_page.setdefault(flight.page_url, []).append(flight)
        rows: List[ResultRow] = []
        died: Optional[str] = None  # once the browser failed, the cases of the other pages died with it
        for page_url, flights in by_page.items():
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
        return self._with_reasons(rows, list(by_page)) + self._take_lost()

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
        self, flight: _Flight, answer: Optional[Dict[str, Any]], failure: Optional[str], elapsed_ms: float
    ) -> ResultRow:
        """The cell of a collected case: its attempts, what the server recorded under its token, and the verdict."""
        mounted, case, spec = flight.mounted, flight.case, flight.spec
        assert mounted.recorder is not None
        if failure is None and not answer:
            failure = "the page lost the case (it was navigated or reloaded while the case was in flight)"
        attempts = (answer or {}).get("attempts") or []
        result = attempts[-1] if attempts and failure is None else None
        exchanges = mounted.recorder.take(spec["token"])
        outcome, reason = classify(result, exchanges, failure, self.pool.alive(mounted.scenario.origins, case.target))
        summary = [{"outcome": a.get("outcome"), "status": a.get("status"), "error": a.get("error")} for a in attempts]
        duration = (answer or {}).get("ms", elapsed_ms)
        judged = mounted.backend if mounted.versions is None else _AppVersions(mounted.backend.label, mounted.versions)
        row = cell_row(
            mounted.scenario,
            judged,
            mounted.urls,
            self.candidate.name,
            self.candidate.engine,
            case,
            spec,
            result or {},
            exchanges,
            outcome,
            reason,
            failure,
            summary,
            duration,
        )
        if self.browser is not None and any(
            name.lower() == "set-cookie" for e in exchanges for name, _ in e.response_headers
        ):
            self.browser.clear_cookies(sorted(set(mounted.urls.values())))
        mounted.in_flight -= 1
        self._release(mounted)
        return row

    def _with_reasons(self, rows: List[ResultRow], page_urls: Sequence[str]) -> List[ResultRow]:
        """Each cell gets the console messages that mention its token; a refused one the browser's reason."""
        engine = self.candidate.engine
        pages = self._pages(page_urls)
        tokens = {id(row): row.request.get("url", "").rsplit(f"{TOKEN_PARAM}=", 1)[-1] for row in rows}
        # An opaque response (no-cors, a manual redirect) was handed to the page: the browser refused nothing to explain.
        refused = [row for row in rows if row.outcome == "blocked" and row.exchanges and not row.response_type]
        # Asking a page for its messages costs a round trip (it flushes what the browser already sent): only when a
        # refused cell of an engine that reports reasons has to have one.
        wanted = bool(refused) and engine not in SILENT_ENGINES
        self._messages += [m for page in pages for m in page.console(flush=wanted)]
        # Browsers report reasons asynchronously (a sandboxed iframe's console comes from another frame): when a refused
        # cell has none yet, give it up to half a second.
        for _ in range(10 if wanted else 0):
            silent = [row for row in refused if not any(m.mentions(tokens[id(row)]) for m in self._messages)]
            if not silent:
                break
            time.sleep(0.05)
            self._messages += [m for page in pages for m in page.console(flush=True)]
        claimed = set()
        for row in rows:
            token = tokens[id(row)]
            mine = [m for m in self._messages if token and m.mentions(token)]
            claimed.update(id(m) for m in mine)
            row.console = [m.text for m in mine]
            row.browser_reason = browser_reason(row.console, engine) if row.outcome == "blocked" else None
        self._messages = [m for m in self._messages if id(m) not in claimed][-KEPT_MESSAGES:]
        return rows

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
