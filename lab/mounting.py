"""Scenarios attached to a session's origin servers, each under a key of its own (the first part of its tokens).

A scenario stays attached until its last case is collected, and its backend's slot is reused once it is detached: a
pin's host process serves each attached scenario from a slot of its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .backend import BackendBuildError, Recorder
from .backend.template import fill
from .scenario.model import Scenario
from .servers import OriginPool


@dataclass
class Mounted:
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


class Mounts:
    """The scenarios attached to one session's servers: the current one, and those whose cases are still out."""

    def __init__(self, pool: OriginPool, slot: str) -> None:
        self.pool = pool
        self.slot = slot
        self.current: Optional[Mounted] = None
        self._count = 0
        self._free_slots: List[str] = []

    def attach(self, scenario: Scenario, backend: Any, stopping: threading.Event) -> Mounted:
        """Build the scenario's backend and attach it to the servers under a new key (reused for consecutive cases
        of the same scenario and pin, as the pytest plugin measures them). A failure is told on the result."""
        current = self.current
        if current is not None and current.scenario is scenario and current.backend is backend:
            return current
        self._count += 1
        slot = self._free_slots.pop() if self._free_slots else f"{self.slot}-{self._count}"
        mounted = self.current = Mounted(f"m{self._count}", slot, scenario, backend)
        if current is not None:
            self.release(current)
        try:
            mounted.urls = self.pool.urls(scenario.origins)
        except OSError as exc:  # a port that is taken, no socket left: this scenario's cells, not the run
            mounted.failure = f"an origin server did not start: {exc}"
            return mounted
        try:
            app = backend.build(mounted.slot, scenario, mounted.urls, stopping)
        except BackendBuildError as exc:
            mounted.failure, mounted.start_failure = f"backend did not start: {exc}", True
            return mounted
        mounted.versions = getattr(app, "versions", None)
        mounted.recorder = Recorder(app, [(k, fill(v, mounted.urls)) for k, v in scenario.backend.proxy_headers])
        self.pool.attach(mounted.key, mounted.recorder)
        return mounted

    def case_done(self, mounted: Mounted) -> None:
        """One case of the scenario was collected: the scenario may go once none is left."""
        mounted.in_flight -= 1
        self.release(mounted)

    def release(self, mounted: Mounted) -> None:
        """Detach a scenario once no case of it is pending and another one has been attached since."""
        if mounted.in_flight <= 0 and mounted is not self.current and not mounted.detached:
            mounted.detached = True
            self.pool.detach(mounted.key)
            self._free_slots.append(mounted.slot)
