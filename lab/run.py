"""Run scenarios in browsers: one worker thread per browser, one launch per browser.

Each worker keeps its origin servers and pages for the whole run and mounts one
scenario backend at a time. Every case fetches a URL with its own token, so
preflight and HTTP caches cannot carry over between cases; cookies are cleared
after any case whose server set one. Shuffled runs therefore give the same cells.
"""

from __future__ import annotations

import queue
import random
import threading
from typing import Iterator, List, Optional, Sequence, Tuple

from .browsers.base import BrowserInfo, Candidate
from .options import Backends, RunOptions
from .results import ResultRow
from .routing import Asked
from .scenario.model import Scenario
from .schedule import ordered, scheduled
from .session import BrowserSession

__all__ = ["Backends", "RunOptions", "Sink", "run_lab"]  # options.py holds the first two


class _EngineWork:
    """The (scenario, backend) items of one browser, shared by its instances."""

    def __init__(self, items: List[Tuple[Scenario, Backends]], instances: int) -> None:
        self.items: queue.Queue[Tuple[Scenario, Backends]] = queue.Queue()
        for item in items:
            self.items.put(item)
        self._lock = threading.Lock()
        self._launching = instances

    def take(self) -> Optional[Tuple[Scenario, Backends]]:
        try:
            return self.items.get_nowait()
        except queue.Empty:
            return None

    def launch_failed(self) -> bool:
        """Record a failed launch; True when no instance of this browser is left to do the work."""
        with self._lock:
            self._launching -= 1
            return self._launching == 0


class Sink:
    """Where measured cells go; the CLI's progress display and the results file implement it."""

    def browser_ready(self, info: BrowserInfo) -> None:
        pass

    def row(self, row: ResultRow) -> None:
        pass

    def routed(self, browser: str, asked: Sequence[Asked]) -> None:
        """What one browser asked the lab's routing for, routed or refused (at the end of its work)."""


class _Worker:
    """Feeds one browser session the (scenario, pin) items of its engine until none is left."""

    def __init__(
        self, session: BrowserSession, options: RunOptions, sink: Sink, stop: threading.Event, work: _EngineWork
    ) -> None:
        self.session = session
        self.options = options
        self.sink = sink
        self.stop = stop
        self.work = work
        self.finished = threading.Event()

    def run(self) -> None:
        rng = random.Random(self.options.shuffle_seed) if self.options.shuffle_seed is not None else None
        session = self.session
        try:
            try:
                session.launch()
            except Exception as exc:
                self._give_up(f"browser failed to launch: {exc}")
                return
            for row in session.run(self._items(), rng):
                self.sink.row(row)
        finally:
            asked = session.close()
            if session.router is not None:
                self.sink.routed(session.candidate.name, asked)
            self.finished.set()

    def _items(self) -> Iterator[Tuple[Scenario, Backends]]:
        """This engine's (scenario, pin) items, shared with its other instances, until none is left or the run stops."""
        while not self.stop.is_set() and (item := self.work.take()) is not None:
            yield item

    def _give_up(self, reason: str) -> None:
        """A launch failed: when no other instance of this browser is left, its cells are errors that say why."""
        if not self.work.launch_failed():
            return
        while (item := self.work.take()) is not None:
            scenario, backend = item
            for case in scenario.cases:
                self.sink.row(self.session.error_row(scenario, case, backend, reason))


def run_lab(
    scenarios: Sequence[Scenario],
    candidates: Sequence[Candidate],
    options: RunOptions,
    sink: Sink,
    backends: Optional[Sequence[Backends]] = None,
) -> bool:
    """Run every scenario with every backend (pin) in every browser; returns False when interrupted."""
    if backends is None:
        from .backend.pinned import LocalBackends

        local = LocalBackends()
        try:
            return run_lab(scenarios, candidates, options, sink, [local])
        finally:
            local.close()
    stop = threading.Event()
    rng = random.Random(options.shuffle_seed) if options.shuffle_seed is not None else None
    items = scheduled(ordered([(scenario, backend) for scenario in scenarios for backend in backends], rng))
    workers = []
    for candidate in candidates:
        count = options.instances_of(candidate.name)
        work = _EngineWork(items, count)
        for i in range(count):
            slot = f"{candidate.name}-{i}"
            session = BrowserSession(candidate, options, slot, scenarios, on_launch=sink.browser_ready, stop=stop)
            workers.append(_Worker(session, options, sink, stop, work))
    threads = [threading.Thread(target=w.run, name=f"browser-{w.session.slot}", daemon=True) for w in workers]
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
            worker.session.stopping.set()  # release hung routes so that in-flight cases finish now
        for worker in workers:
            worker.finished.wait(30)
        return False
    return True
