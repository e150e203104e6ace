"""One launched browser with its origin servers and router, measuring cases.

`cors-lab run` keeps a session per browser instance for the whole run; the pytest
plugin keeps one per browser in each pytest worker. Either way a browser launches
once, however many cases it measures. A scenario stays mounted on the session's
servers until a case of another scenario (or pin) comes, so measuring case by case
costs no more than measuring a scenario at once.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .backend import TOKEN_PARAM, BackendBuildError, Exchange, Recorder
from .backend.template import fill
from .browsers.base import Browser, BrowserInfo, Candidate, Page, Routing
from .results import ResultRow
from .routing import Asked, Router
from .scenario.model import Case, Scenario, split_expectation
from .servers import OriginPool
from .standard import judge


def ordered(items: Sequence[Any], rng: Optional[random.Random]) -> List[Any]:
    """The items, shuffled when a seed was given (results must not depend on the order)."""
    result = list(items)
    if rng is not None:
        rng.shuffle(result)
    return result


@dataclass
class _Mounted:
    """The scenario and backend the session's origin servers dispatch to now."""

    scenario: Scenario
    backend: Any
    urls: Dict[str, str] = field(default_factory=dict)
    recorder: Optional[Recorder] = None
    failure: str = ""  # the backend or a server did not start: every case of it is this error
    start_failure: bool = False
    pages: Dict[str, Page] = field(default_factory=dict)


class BrowserSession:
    """A browser the lab launched (or will launch), with its own servers and router.

    `options` is a run.RunOptions (timeout, bind address, host suffix, cells to skip)."""

    def __init__(self, candidate: Candidate, options: Any, slot: str, bypass: Sequence[str] = (),
                 on_launch: Callable[[BrowserInfo], None] = lambda info: None) -> None:
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
        self._mounted: Optional[_Mounted] = None

    def launch(self) -> BrowserInfo:
        """Start the browser; raises what the launcher raises."""
        self.browser = self.candidate.launch(routing=self.routing)
        self.on_launch(self.browser.info)
        return self.browser.info

    def error_row(self, scenario: Scenario, case: Case, backend: Any, reason: str, start_failure: bool = False) -> ResultRow:
        """A cell the lab could not measure: the reason says why (never folded into `blocked`).

        It matches its expectation only when the scenario says the app must refuse to start under this pin
        (`start_error`) and the start-up error says what it should: any other error is the lab's failure."""
        engine = self.candidate.engine
        expected_text = scenario.backend.start_error_in(backend.versions)
        matched = start_failure and expected_text is not None and expected_text in reason
        expected, _ = split_expectation(scenario.expected(case, engine, backend.versions))
        return ResultRow(scenario.id, scenario.group, case.name, self.candidate.name, engine, "error",
                         expected, matched, pin=backend.label, reason=reason)

    def measure(self, scenario: Scenario, backend: Any, cases: Optional[Sequence[Case]] = None,
                rng: Optional[random.Random] = None) -> List[ResultRow]:
        """Rows for `cases` (default: every case not in options.skip) of one scenario under one backend (pin)."""
        if cases is None:
            cases = [c for c in scenario.cases
                     if (scenario.id, c.name, self.candidate.name, backend.label) not in self.options.skip]
        if not cases:
            return []
        mounted = self._mount(scenario, backend)
        if mounted.failure:
            return [self.error_row(scenario, c, backend, mounted.failure, mounted.start_failure) for c in cases]
        measured: List[Tuple[ResultRow, str]] = []
        for case in ordered(cases, rng):
            if self.stop.is_set():
                break
            cell = self._measure_case(mounted, case)
            if cell is not None:
                measured.append(cell)
        self._attach_browser_reasons(measured, mounted.pages)
        return [row for row, _ in measured]

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

    def _mount(self, scenario: Scenario, backend: Any) -> _Mounted:
        current = self._mounted
        if current is not None and current.scenario is scenario and current.backend is backend:
            return current
        self.pool.mount(None)
        mounted = self._mounted = _Mounted(scenario, backend)
        try:
            mounted.urls = {name: self.pool.url(origin) for name, origin in scenario.origins.items()}
        except OSError as exc:  # a port that is taken, no socket left: this scenario's cells, not the run
            mounted.failure = f"an origin server did not start: {exc}"
            return mounted
        try:
            app = backend.build(self.slot, scenario, mounted.urls, self.stopping)
        except BackendBuildError as exc:
            mounted.failure, mounted.start_failure = f"backend did not start: {exc}", True
            return mounted
        mounted.recorder = Recorder(app, [(k, fill(v, mounted.urls)) for k, v in scenario.backend.proxy_headers])
        self.pool.mount(mounted.recorder)
        return mounted

    def _probe_spec(self, case: Case, urls: Dict[str, str], token: str) -> Dict[str, Any]:
        separator = "&" if "?" in case.path else "?"
        return {
            "url": f"{urls[case.target]}{case.path}{separator}{TOKEN_PARAM}={token}",
            "method": case.method,
            "headers": fill(case.headers, urls),
            "body": case.body,
            "credentials": case.credentials,
            "mode": case.mode,
            "redirect": case.redirect,
            "read_headers": list(case.read_headers),
            "sandboxed": case.sandboxed,
            "timeout_ms": int(self.options.timeout_s * 1000),
        }

    def _measure_case(self, mounted: _Mounted, case: Case) -> Optional[Tuple[ResultRow, str]]:
        """Measure one cell; None when the run was interrupted under it (nothing was measured)."""
        from .run import classify  # noqa: the outcome rules live with the runner's documented semantics

        scenario, backend, urls = mounted.scenario, mounted.backend, mounted.urls
        assert mounted.recorder is not None
        if self.browser is None:
            return self.error_row(scenario, case, backend, self.launch_failure or "the browser is not running"), ""
        self._serial += 1
        token = f"{self._serial}-{secrets.token_hex(4)}"
        spec = self._probe_spec(case, urls, token)
        started = time.perf_counter()
        result: Optional[Dict[str, Any]] = None
        failure: Optional[str] = None
        attempts: List[Dict[str, Any]] = []
        try:
            page = self.browser.page(urls[case.page])
            mounted.pages[urls[case.page]] = page
            for attempt in range(case.repeat):
                if attempt:
                    time.sleep(case.pause_ms / 1000)
                result = page.probe(spec)  # the same URL each time: the browser may reuse a cached preflight
                attempts.append({"outcome": result["outcome"], "status": result["status"], "error": result["error"]})
        except Exception as exc:
            if self.stop.is_set():
                return None
            failure = f"browser failed during the case: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            self._restart_browser(mounted.pages)
        duration_ms = (time.perf_counter() - started) * 1000
        exchanges = mounted.recorder.take(token)
        outcome, reason = classify(result, exchanges, failure, self.pool.alive(scenario.origins[case.target]))
        row = self._row(mounted, case, spec, result or {}, exchanges, outcome, reason, failure, attempts, duration_ms)
        if self.browser is not None and any(name.lower() == "set-cookie" for e in exchanges for name, _ in e.response_headers):
            self.browser.clear_cookies(sorted(set(urls.values())))
        return row, token

    def _row(self, mounted: _Mounted, case: Case, spec: Dict[str, Any], result: Dict[str, Any],
             exchanges: Sequence[Exchange], outcome: str, reason: Optional[str], failure: Optional[str],
             attempts: List[Dict[str, Any]], duration_ms: float) -> ResultRow:
        """The cell: what was measured, judged against the scenario's expectation and the standard's model."""
        scenario, backend, urls = mounted.scenario, mounted.backend, mounted.urls
        engine = self.candidate.engine
        request = {"page_origin": urls[case.page], "url": spec["url"], "method": case.method, "headers": spec["headers"],
                   "credentials": case.credentials, "mode": case.mode, "redirect": case.redirect, "sandboxed": case.sandboxed}
        recorded = [e.to_dict() for e in exchanges]
        judgement = judge(request, recorded)
        expected, app_error = split_expectation(scenario.expected(case, engine, backend.versions))
        cookies_sent = any("Cookie" in e.request_headers for e in exchanges)
        expected_cookies = case.cookies_expected_in(engine)
        matched = (outcome == expected and (app_error is None or (reason is not None and failure is None and app_error in reason))
                   and (expected_cookies is None or cookies_sent == expected_cookies))
        if outcome == expected and expected_cookies is not None and cookies_sent != expected_cookies:
            reason = reason or (f"a cookie {'was' if cookies_sent else 'was not'} sent, expected it "
                                f"{'to be' if expected_cookies else 'not to be'}")
        return ResultRow(
            scenario=scenario.id, group=scenario.group, case=case.name,
            browser=self.candidate.name, engine=engine,
            outcome=outcome, expected=expected, matched=matched, pin=backend.label,
            status=result.get("status"), response_type=result.get("response_type"),
            preflight=any(e.kind == "preflight" for e in exchanges),
            preflights=sum(1 for e in exchanges if e.kind == "preflight"),
            cookies_sent=cookies_sent, expected_cookies_sent=expected_cookies,
            attempts=attempts if case.repeat > 1 else [],
            readable_headers=result.get("readable_headers"), read_headers=result.get("read_headers") or {},
            error=result.get("error"), reason=reason,
            exchanges=recorded, duration_ms=round(duration_ms, 2),
            request=request, model=judgement.to_dict(),
            agrees=judgement.prediction == outcome if outcome in ("allowed", "blocked") else None,
        )

    def _attach_browser_reasons(self, measured: List[Tuple[ResultRow, str]], pages: Dict[str, Page]) -> None:
        """Each refused cell gets the console messages that mention its token, and the browser's reason."""
        from .run import SILENT_ENGINES, browser_reason

        engine = self.candidate.engine
        messages = [m for page in pages.values() for m in page.console()]
        # Browsers report reasons asynchronously (a sandboxed iframe's console comes from another frame): when a refused
        # cell of an engine that does report reasons has none yet, give it up to half a second.
        for _ in range(10):
            silent = [t for row, t in measured if row.outcome == "blocked" and engine not in SILENT_ENGINES
                      and row.exchanges and not any(m.mentions(t) for m in messages)]
            if not silent:
                break
            time.sleep(0.05)
            messages += [m for page in pages.values() for m in page.console()]
        for row, token in measured:
            row.console = [m.text for m in messages if m.mentions(token)]
            row.browser_reason = browser_reason(row.console, engine) if row.outcome == "blocked" else None

    def _restart_browser(self, pages: Dict[str, Page]) -> None:
        """Replace a browser that died; if it cannot come back, later cells say why."""
        pages.clear()
        if self.browser is not None:
            self.browser.close()
        self.browser = None
        try:
            self.launch()
        except Exception as exc:
            self.launch_failure = f"browser could not be restarted: {exc}"
