"""A window's cases sent out in round trips: cases that pause are started to be collected later, the others grouped
by page, each page's group in one round trip; or, for a scenario that must run alone, each case by itself.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterator, List, Sequence

from .flights import Flight, Tokens
from .flying import CasesInFlight
from .results import ResultRow
from .schedule import Plan, waits


class WindowRunner:
    """Runs the planned cases of one session's windows, and of the scenarios that run alone."""

    def __init__(self, flying: CasesInFlight, tokens: Tokens, stopped: Callable[[], bool]) -> None:
        self.flying = flying
        self.tokens = tokens
        self.stopped = stopped

    def run_window(self, window: Sequence[Plan]) -> List[ResultRow]:
        """The cases of these scenarios: those that pause are started and collected later; the others are grouped by
        page, and each page runs its group in one round trip."""
        rows: List[ResultRow] = []
        by_page: Dict[str, List[Flight]] = {}
        for plan in window:
            later = [c for c in plan.cases if waits(c)]
            self.flying.start(self.tokens.paused(plan.mounted, later))
            for case in plan.cases:
                if case not in later:
                    flight = self.tokens.flight(plan.mounted, case)
                    by_page.setdefault(flight.page_url, []).append(flight)
        for flights in by_page.values():
            if self.stopped():
                break
            rows += self.flying.fly(flights)
        return rows + self.flying.take_held()

    def run_alone(self, plan: Plan) -> Iterator[ResultRow]:
        """Each case by itself, with nothing else in flight (its server may set cookies, or one at a time was asked);
        rows go out as each case ends, so that progress moves during a long scenario (a scan of a real app)."""
        yield from self.flying.collect(due_only=False)
        for case in plan.cases:
            if self.stopped():
                break
            yield from self.flying.fly([self.tokens.flight(plan.mounted, case)])
        yield from self.flying.take_held()
