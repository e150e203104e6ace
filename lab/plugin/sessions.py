"""The browsers and pin backends of one pytest process, started on first use.

Under pytest-xdist every worker is its own process: each launches each browser it
needs once, whatever number of tests it is given, and closes them when its session
ends. Launch failures are remembered, so the remaining tests of that browser fail
at once with the same reason instead of launching again.

Each browser lives on a thread of its own: Playwright's sync API binds a driver to
the thread that started it, and one thread cannot hold two (nor one next to a test's
own event loop, such as pytest-playwright's).
"""

from __future__ import annotations

import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, TypeVar

from ..backend.pinned import LocalBackends, prepare_backends
from ..browsers.base import BrowserInfo, BrowserUnavailable, Candidate
from ..browsers.discovery import find_browsers, select_browsers
from ..options import Backends, RunOptions
from ..pins import Pin
from ..results import ResultRow
from ..scenario.model import Case, Scenario
from ..session import BrowserSession

T = TypeVar("T")


def pin_id(pin: Pin) -> str:
    """A test id for a pin: `flask3.1-flask-cors6.0` (the label without spaces)."""
    return re.sub(r"\s+", "", re.sub(r"\s*/\s*", "-", pin.label))


class Sessions:
    """One BrowserSession per browser name and one backend per pin, for one pytest process."""

    def __init__(
        self,
        requested: Sequence[str],
        pins: Sequence[Pin],
        timeout_s: float,
        envs: Path,
        drivers: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.requested = list(requested)
        self.drivers = dict(drivers or {})
        self.pins = list(pins)
        self.options = RunOptions(timeout_s=timeout_s)
        self.envs = envs
        self.known: List[Scenario] = []  # collected scenarios: their lab-assigned names bypass the router
        self._candidates: Optional[List[Candidate]] = None
        self._sessions: Dict[str, BrowserSession] = {}
        self._threads: Dict[str, ThreadPoolExecutor] = {}
        self._launch_failures: Dict[str, str] = {}
        self.launched: Dict[str, str] = {}  # browser name -> "product version" of its launch in this process
        self.launches: Dict[str, int] = {}  # browser name -> how many times this process launched it (restarts too)
        self._backends: Optional[Dict[str, Backends]] = None

    def candidates(self) -> List[Candidate]:
        """The browsers asked for with --browser (default: every one found); raises BrowserUnavailable."""
        if self._candidates is None:
            self._candidates = select_browsers(self.requested, find_browsers(drivers=self.drivers))
        return self._candidates

    def browser_names(self) -> List[str]:
        return [c.name for c in self.candidates()]

    def pin_ids(self) -> List[str]:
        """ "" for the installed Flask and flask-cors, else one id per pin."""
        return [pin_id(p) for p in self.pins] or [""]

    def measure(self, scenario: Scenario, case: Case, browser: str, pin: str = "") -> ResultRow:
        """The cell of one case in one browser under one pin ("" for the installed versions)."""
        backend = self.backend(pin)
        rows = self.on_thread(browser, lambda session: session.measure(scenario, backend, [case]))
        if not rows:
            raise RuntimeError(f"{browser} measured nothing for {scenario.id} :: {case.name}")
        return rows[0]

    def on_thread(self, browser: str, work: Callable[[BrowserSession], T]) -> T:
        """Run `work` with the browser's session, on the browser's own thread."""
        if browser not in self._threads:
            self._threads[browser] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"cors-lab-{browser}")
        return self._threads[browser].submit(lambda: work(self._session(browser))).result()

    def _session(self, browser: str) -> BrowserSession:
        """The running session of a browser, launched on first use (on its thread)."""
        if browser in self._launch_failures:
            raise BrowserUnavailable(self._launch_failures[browser])
        if browser not in self._sessions:
            candidate = next(c for c in self.candidates() if c.name == browser)

            def launched(info: BrowserInfo) -> None:
                self.launched[browser] = f"{info.product} {info.version}"
                self.launches[browser] = self.launches.get(browser, 0) + 1

            session = BrowserSession(candidate, self.options, f"pytest-{browser}", self.known, on_launch=launched)
            try:
                session.launch()
            except Exception as exc:
                session.close()
                self._launch_failures[browser] = f"{browser} failed to launch: {exc}"
                raise BrowserUnavailable(self._launch_failures[browser]) from exc
            self._sessions[browser] = session
        return self._sessions[browser]

    def backend(self, pin: str) -> Backends:
        if self._backends is None:
            if self.pins:

                def say(line: str) -> None:
                    print(f"cors-lab: {line}", file=sys.stderr, flush=True)

                started = prepare_backends(self.pins, self.known, self.envs, max(30.0, self.options.timeout_s + 5), say)
                self._backends = {pin_id(p): b for p, b in zip(self.pins, started)}
            else:
                self._backends = {"": LocalBackends()}
        return self._backends[pin]

    def close(self) -> None:
        """Close every browser, server and pin host this process started."""
        for browser, session in self._sessions.items():
            self._threads[browser].submit(session.close).result()
        for thread in self._threads.values():
            thread.shutdown()
        self._sessions.clear()
        self._threads.clear()
        for backend in (self._backends or {}).values():
            backend.close()
        self._backends = None
