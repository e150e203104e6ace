"""Run scenarios in browsers: one worker thread per browser, one launch per browser.

Each worker keeps its origin servers and pages for the whole run and mounts one
scenario backend at a time. Every case fetches a URL with its own token, so
preflight and HTTP caches cannot carry over between cases; cookies are cleared
after any case whose server set one. Shuffled runs therefore give the same cells.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
import queue
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

from .backend import TOKEN_PARAM, BackendBuildError, Exchange, Recorder
from .backend.recorder import WSGIApp
from .backend.template import fill
from .browsers.base import Browser, BrowserInfo, Candidate, Page, Routing
from .results import ResultRow
from .scenario.model import Case, Scenario, split_expectation
from .routing import Asked, Router
from .servers import OriginPool, browser_hostname
from .standard import judge


@dataclass(frozen=True)
class RunOptions:
    timeout_s: float = 10.0
    shuffle_seed: Optional[int] = None
    instances: Mapping[str, int] = field(default_factory=dict)  # browser instances per engine name ("*": all)
    skip: frozenset = frozenset()  # (scenario, case, browser, pin) cells already measured (--resume)
    bind: str = "127.0.0.1"  # where the origin servers listen (loopback unless asked otherwise)
    host_suffix: str = "localhost"  # app.localhost becomes app.<host_suffix> for browsers elsewhere

    def instances_of(self, name: str) -> int:
        return max(1, self.instances.get(name, self.instances.get("*", 1)))


class _EngineWork:
    """The (scenario, backend) items of one browser, shared by its instances."""

    def __init__(self, items: List[Tuple[Scenario, "Backends"]], instances: int) -> None:
        self.items: "queue.Queue[Tuple[Scenario, Backends]]" = queue.Queue()
        for item in items:
            self.items.put(item)
        self._lock = threading.Lock()
        self._launching = instances

    def take(self) -> Optional[Tuple[Scenario, "Backends"]]:
        try:
            return self.items.get_nowait()
        except queue.Empty:
            return None

    def launch_failed(self) -> bool:
        """Record a failed launch; True when no instance of this browser is left to do the work."""
        with self._lock:
            self._launching -= 1
            return self._launching == 0


class Backends(Protocol):
    """Where scenario backends come from: this process's Flask, or a pin's host process."""

    label: str
    versions: Dict[str, str]

    def build(self, slot: str, scenario: Scenario, origins: Mapping[str, str], stopping: threading.Event) -> WSGIApp:
        ...


class Sink:
    """Where measured cells go; the CLI's progress display and the results file implement it."""

    def browser_ready(self, info: BrowserInfo) -> None:
        pass

    def row(self, row: ResultRow) -> None:
        pass

    def routed(self, browser: str, asked: Sequence[Asked]) -> None:
        """What one browser asked the lab's routing for, routed or refused (at the end of its work)."""


def _ordered(items: Sequence[Any], rng: Optional[random.Random]) -> List[Any]:
    ordered = list(items)
    if rng is not None:
        rng.shuffle(ordered)
    return ordered


def classify(result: Optional[Dict[str, Any]], exchanges: Sequence[Exchange], failure: Optional[str],
             backend_alive: bool) -> Tuple[str, Optional[str]]:
    """Outcome and the lab's reason. The lab's own failures are `error`, never folded into `blocked`."""
    if failure is not None:
        return "error", failure
    broken = [e for e in exchanges if e.failure]
    if broken:
        return "error", f"the backend failed while answering {broken[0].method} {broken[0].path}: {broken[0].failure}"
    assert result is not None
    outcome = result["outcome"]
    if outcome == "blocked" and not exchanges and not backend_alive:
        return "error", "the backend server is not running"
    unanswered = [e for e in exchanges if e.status is None]
    if outcome == "blocked" and unanswered:
        return "error", (f"the server received {unanswered[0].method} {unanswered[0].path} and closed the connection without"
                         " answering: a network failure, not a CORS refusal")
    if outcome == "blocked" and not exchanges:
        return outcome, "no request reached the server: the browser refused before sending"
    return outcome, None


SILENT_ENGINES = {"firefox": "Firefox over WebDriver BiDi does not report its CORS reason to the lab",
                  "webkit": "WebKit over WebDriver does not report its CORS reason to the lab"}


def browser_reason(console: Sequence[str], engine: str) -> str:
    """The browser's own words for a refusal: Chromium's corsErrorStatus and CORS console message, where told."""
    said = [m for m in console if m.startswith("corsErrorStatus")] + [m for m in console if "CORS" in m and not m.startswith("corsErrorStatus")]
    return "; ".join(said) if said else SILENT_ENGINES.get(engine, "the browser gave no reason")


class _Worker:
    """Runs every scenario in one browser, restarting the browser if it dies."""

    def __init__(self, candidate: Candidate, options: RunOptions, sink: Sink, stop: threading.Event,
                 work: _EngineWork, slot: str, bypass: Sequence[str] = ()) -> None:
        self.candidate = candidate
        self.work = work
        self.slot = slot
        self.options = options
        self.sink = sink
        self.stop = stop
        self.stopping = threading.Event()
        self.finished = threading.Event()
        # Each browser the lab launches gets its own router: origins served as written map to this worker's servers.
        self.router = Router() if candidate.routable else None
        self.routing = Routing(self.router.address, tuple(bypass)) if self.router is not None else None
        self.pool = OriginPool(options.bind, options.host_suffix, self.router)
        self.browser: Optional[Browser] = None
        self.launch_failure = ""
        self.serial = 0

    def _error(self, scenario: Scenario, case: Case, backend: Backends, reason: str, start_failure: bool = False) -> ResultRow:
        """A cell the lab could not measure: the reason says why (never folded into `blocked`).

        It matches its expectation only when the scenario says the app must refuse to start under this pin
        (`start_error`) and the start-up error says what it should: any other error is the lab's failure."""
        engine = self.candidate.engine
        expected_text = scenario.backend.start_error_in(backend.versions)
        matched = start_failure and expected_text is not None and expected_text in reason
        expected, _ = split_expectation(scenario.expected(case, engine, backend.versions))
        return ResultRow(scenario.id, scenario.group, case.name, self.candidate.name, engine, "error",
                         expected, matched, pin=backend.label, reason=reason)

    def run(self) -> None:
        rng = random.Random(self.options.shuffle_seed) if self.options.shuffle_seed is not None else None
        try:
            try:
                self.browser = self.candidate.launch(routing=self.routing)
            except Exception as exc:
                if self.work.launch_failed():  # the last instance left: nobody else will run these cells
                    while (item := self.work.take()) is not None:
                        scenario, backend = item
                        for case in scenario.cases:
                            self.sink.row(self._error(scenario, case, backend, f"browser failed to launch: {exc}"))
                return
            self.sink.browser_ready(self.browser.info)
            while not self.stop.is_set() and (item := self.work.take()) is not None:
                for row in self._run_scenario(item[0], item[1], rng):
                    self.sink.row(row)
        finally:
            self.stopping.set()
            self.pool.close()
            if self.browser is not None:
                self.browser.close()
            if self.router is not None:
                self.router.close()
                self.sink.routed(self.candidate.name, self.router.asked())
            self.finished.set()

    def _run_scenario(self, scenario: Scenario, backend: Backends, rng: Optional[random.Random]) -> List[ResultRow]:
        cases = [c for c in scenario.cases if (scenario.id, c.name, self.candidate.name, backend.label) not in self.options.skip]
        if not cases:
            return []
        try:
            urls = {name: self.pool.url(origin) for name, origin in scenario.origins.items()}
        except OSError as exc:  # a port that is taken, no socket left: this scenario's cells, not the run
            return [self._error(scenario, c, backend, f"an origin server did not start: {exc}") for c in cases]
        try:
            app = backend.build(self.slot, scenario, urls, self.stopping)
        except BackendBuildError as exc:
            return [self._error(scenario, c, backend, f"backend did not start: {exc}", start_failure=True) for c in cases]
        recorder = Recorder(app, [(k, fill(v, urls)) for k, v in scenario.backend.proxy_headers])
        self.pool.mount(recorder)
        rows: List[Tuple[ResultRow, str]] = []
        pages: Dict[str, Page] = {}
        try:
            for case in _ordered(cases, rng):
                if self.stop.is_set():
                    break
                measured = self._run_case(scenario, case, urls, recorder, pages, backend)
                if measured is not None:
                    rows.append(measured)
        finally:
            self.pool.mount(None)
        messages = [m for page in pages.values() for m in page.console()]
        # Browsers report reasons asynchronously (a sandboxed iframe's console comes from another frame): when a refused
        # cell of an engine that does report reasons has none yet, give it up to half a second.
        for _ in range(10):
            silent = [t for row, t in rows if row.outcome == "blocked" and self.candidate.engine not in SILENT_ENGINES
                      and row.exchanges and not any(m.mentions(t) for m in messages)]
            if not silent:
                break
            time.sleep(0.05)
            messages += [m for page in pages.values() for m in page.console()]
        for row, token in rows:
            row.console = [m.text for m in messages if m.mentions(token)]
            row.browser_reason = browser_reason(row.console, self.candidate.engine) if row.outcome == "blocked" else None
        return [row for row, _ in rows]

    def _run_case(self, scenario: Scenario, case: Case, urls: Dict[str, str], recorder: Recorder,
                  pages: Dict[str, Page], backend: Backends) -> Optional[Tuple[ResultRow, str]]:
        """Measure one cell; None when the run was interrupted under it (nothing was measured)."""
        if self.browser is None:
            return self._error(scenario, case, backend, self.launch_failure), ""
        self.serial += 1
        token = f"{self.serial}-{secrets.token_hex(4)}"
        separator = "&" if "?" in case.path else "?"
        spec = {
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
        engine = self.candidate.engine
        started = time.perf_counter()
        result: Optional[Dict[str, Any]] = None
        failure: Optional[str] = None
        attempts: List[Dict[str, Any]] = []
        try:
            page = self.browser.page(urls[case.page])
            pages[urls[case.page]] = page
            for attempt in range(case.repeat):
                if attempt:
                    time.sleep(case.pause_ms / 1000)
                result = page.probe(spec)  # the same URL each time: the browser may reuse a cached preflight
                attempts.append({"outcome": result["outcome"], "status": result["status"], "error": result["error"]})
        except Exception as exc:
            if self.stop.is_set():
                return None
            failure = f"browser failed during the case: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            self._restart_browser(pages)
        duration_ms = (time.perf_counter() - started) * 1000
        exchanges = recorder.take(token)
        outcome, reason = classify(result, exchanges, failure, self.pool.alive(scenario.origins[case.target]))
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
        result = result or {}
        row = ResultRow(
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
        if self.browser is not None and any(name.lower() == "set-cookie" for e in exchanges for name, _ in e.response_headers):
            self.browser.clear_cookies(sorted(set(urls.values())))
        return row, token

    def _restart_browser(self, pages: Dict[str, Page]) -> None:
        """Replace a browser that died; if it cannot come back, later cells say why."""
        pages.clear()
        if self.browser is not None:
            self.browser.close()
        self.browser = None
        try:
            self.browser = self.candidate.launch(routing=self.routing)
            self.sink.browser_ready(self.browser.info)
        except Exception as exc:
            self.launch_failure = f"browser could not be restarted: {exc}"


def lab_assigned_names(scenarios: Sequence[Scenario], host_suffix: str = "localhost") -> List[str]:
    """The `*.localhost` names the lab assigns ports to: browsers reach them directly, not through the router
    (plain `localhost` is left out, so that `http://localhost:5173` written as such is routed)."""
    return sorted({browser_hostname(o.host, host_suffix) for s in scenarios for o in s.origins.values()
                   if o.port is None and o.host != "localhost"})


def run_lab(scenarios: Sequence[Scenario], candidates: Sequence[Candidate], options: RunOptions, sink: Sink,
            backends: Optional[Sequence[Backends]] = None) -> bool:
    """Run every scenario with every backend (pin) in every browser; returns False when interrupted."""
    if backends is None:
        from .backend.pinned import LocalBackends

        backends = [LocalBackends()]
    stop = threading.Event()
    rng = random.Random(options.shuffle_seed) if options.shuffle_seed is not None else None
    items = _ordered([(scenario, backend) for scenario in scenarios for backend in backends], rng)
    bypass = lab_assigned_names(scenarios, options.host_suffix)
    workers = []
    for candidate in candidates:
        count = options.instances_of(candidate.name)
        work = _EngineWork(items, count)
        workers += [_Worker(candidate, options, sink, stop, work, f"{candidate.name}-{i}", bypass) for i in range(count)]
    threads = [threading.Thread(target=w.run, name=f"browser-{w.slot}", daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    try:
        # Wait on events, not Thread.join: an interrupted join can report a live thread as finished,
        # and a Playwright thread still running at interpreter exit crashes it.
        for worker in workers:
            while not worker.finished.wait(0.2):
                pass
    except KeyboardInterrupt:
        stop.set()
        for worker in workers:
            worker.stopping.set()  # release hung routes so that in-flight cases finish now
        for worker in workers:
            worker.finished.wait(30)
        return False
    return True
