"""What a run is given: its options (RunOptions) and where its scenario backends come from (Backends).

Both the runner (run.py) and the browser sessions it builds (session.py) read them: they live here, apart from
either, so that neither imports the other back.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Protocol

from .backend.recorder import WSGIApp
from .scenario.model import Scenario


@dataclass(frozen=True)
class RunOptions:
    timeout_s: float = 10.0
    shuffle_seed: Optional[int] = None
    instances: Mapping[str, int] = field(default_factory=dict)  # browser instances per engine name ("*": all)
    skip: frozenset = frozenset()  # (scenario, case, browser, pin) cells already measured (--resume)
    bind: str = "127.0.0.1"  # where the origin servers listen (loopback unless asked otherwise)
    host_suffix: str = "localhost"  # app.localhost becomes app.<host_suffix> for browsers elsewhere
    one_at_a_time: bool = False  # every case alone, nothing else in flight (for comparison: cells must not change)

    def instances_of(self, name: str) -> int:
        """How many instances of the browser run side by side: at least one."""
        return max(1, self.instances.get(name, self.instances.get("*", 1)))


class Backends(Protocol):
    """Where scenario backends come from: this process's Flask, or a pin's host process."""

    label: str
    versions: Dict[str, str]

    def build(
        self, slot: str, scenario: Scenario, origins: Mapping[str, str], stopping: threading.Event
    ) -> WSGIApp: ...
