"""Result rows of one browser: a collected case made into its cell, and the cell of a case the lab could not measure.

The verdict itself (outcome, the lab's reason, the expectation met or not) is cell.py's; this module gathers what it
judges: the page's answer, what the server recorded under the case's token, and whether the server is still up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

from .browsers.base import Candidate
from .cell import cell_row, classify, local_network_of
from .flights import Flight
from .results import UNSUPPORTED, ResultRow
from .scenario.model import Case, Scenario, split_expectation
from .servers import OriginPool

LOST_BY_PAGE = "the page lost the case (it was navigated or reloaded while the case was in flight)"


@dataclass(frozen=True)
class AppVersions:
    """The backend as expectations see it when the user's app runs with versions of its own (its environment's)."""

    label: str
    versions: Dict[str, str]


class CellMaker:
    """Makes the rows of one browser's cells, judged against the scenarios' expectations."""

    def __init__(self, candidate: Candidate, pool: OriginPool) -> None:
        self.candidate = candidate
        self.pool = pool

    def error_row(
        self, scenario: Scenario, case: Case, backend: Any, reason: str, start_failure: bool = False
    ) -> ResultRow:
        """A cell the lab could not measure: the reason says why (never folded into `blocked`).

        It matches its expectation only when the scenario says the app must refuse to start under this pin
        (`start_error`) and the start-up error says what it should: any other error is the lab's failure."""
        expected_text = scenario.backend.start_error_in(backend.versions)
        matched = start_failure and expected_text is not None and expected_text in reason
        return self._unmeasured(scenario, case, backend, "error", matched, reason)

    def unsupported_row(self, scenario: Scenario, case: Case, backend: Any, reason: str) -> ResultRow:
        """A cell this browser cannot measure as the case needs (lab/browsers/spaces.py): not run, never a pass."""
        row = self._unmeasured(scenario, case, backend, UNSUPPORTED, False, reason)
        row.local_network = local_network_of(scenario, case)
        return row

    def _unmeasured(
        self, scenario: Scenario, case: Case, backend: Any, outcome: str, matched: bool, reason: str
    ) -> ResultRow:
        """A row with no measurement in it: the case's expectation, the outcome word and the reason."""
        expected, _ = split_expectation(scenario.expected(case, self.candidate.engine, backend.versions))
        return ResultRow(
            scenario.id,
            scenario.group,
            case.name,
            self.candidate.name,
            self.candidate.engine,
            outcome,
            expected,
            matched,
            pin=backend.label,
            reason=reason,
            attacker=case.attacker,
            request={"page": case.page, "credentials": case.credentials, "sandboxed": case.sandboxed},
        )

    def row(
        self, flight: Flight, answer: Optional[Dict[str, Any]], failure: Optional[str], elapsed_ms: float
    ) -> ResultRow:
        """The cell of a collected case: its attempts, what the server recorded under its token, and the verdict."""
        mounted, case, spec = flight.mounted, flight.case, flight.spec
        assert mounted.recorder is not None
        if failure is None and not answer:
            failure = LOST_BY_PAGE
        attempts = (answer or {}).get("attempts") or []
        result = attempts[-1] if attempts and failure is None else None
        exchanges = mounted.recorder.take(spec["token"])
        outcome, reason = classify(result, exchanges, failure, self.pool.alive(mounted.scenario.origins, case.target))
        summary = [{"outcome": a.get("outcome"), "status": a.get("status"), "error": a.get("error")} for a in attempts]
        duration = (answer or {}).get("ms", elapsed_ms)
        judged = mounted.backend if mounted.versions is None else AppVersions(mounted.backend.label, mounted.versions)
        return cell_row(
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


def sets_cookie(row: ResultRow) -> bool:
    """Whether the server set a cookie while answering the case: the browser's cookies are cleared after it."""
    return any(name.lower() == "set-cookie" for e in row.exchanges for name, _ in e["response_headers"])
