"""The order a session measures scenarios in, and which of their cases run together (no browser, no servers).

Cases run in flight together where they cannot affect each other: every case fetches URLs with its own token, so the
cases of the scenarios in one window start together, a round trip per page. A case that waits (repeats with a pause)
is started and collected later, so that nothing sleeps on the critical path. Cookies are the exception: the cases of
a scenario whose server may set a cookie run one at a time, with nothing else in flight.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .mounting import Mounted
from .scenario.model import Case, Scenario
from .servers import origin_keys

DEFER_PAUSE_MS = 500
"""A case that pauses at least this long between repeats is collected later, not waited for."""
WINDOW_CASES = 48
WINDOW_SCENARIOS = 16
"""A window of scenarios whose cases run together: at most this many cases, scenarios, and pages (see window_full)."""


def ordered(items: Sequence[Any], rng: Optional[random.Random]) -> List[Any]:
    """The items, shuffled when a seed was given (results must not depend on the order)."""
    result = list(items)
    if rng is not None:
        rng.shuffle(result)
    return result


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
class Plan:
    """A scenario attached and ready: the cases to run, and whether they may run in flight with others."""

    mounted: Mounted
    cases: List[Case]
    together: bool


def window_full(window: Sequence[Plan], pages_kept: int) -> bool:
    """Whether a window has enough to run: it needs no more page origins than the browser keeps pages (one spare
    for a paused case's page), and a window that waits too long to fill delays every row in it."""
    pages = {p.mounted.urls[c.page] for p in window for c in p.cases}
    return (
        len(pages) >= pages_kept - 1
        or sum(len(p.cases) for p in window) >= WINDOW_CASES
        or len(window) >= WINDOW_SCENARIOS
    )
