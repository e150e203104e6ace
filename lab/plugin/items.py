"""Scenario files as pytest files, and their cells as pytest items.

A file gives one item per case and browser (and pin, when pins are asked for):
`my-api.toml::vite dev server reads[firefox]`. An item passes when the cell is
what the scenario expects; a failure prints the case's story as `cors-lab
explain` tells it, and is located at the line of the case. A cell the browser
cannot run (outcome `unsupported`) is skipped, with the reason.
"""

from __future__ import annotations

import os
from typing import Any, Iterator, Optional, Tuple

import pytest

from ..browsers.base import BrowserUnavailable
from ..explain import story
from ..results import ResultRow, unsupported
from ..scenario.load import LIBRARY, ScenarioError, load_file, scenario_id
from ..scenario.model import Case, Scenario
from .sessions import Sessions

SESSIONS = pytest.StashKey[Sessions]()


class CellMismatch(Exception):
    """The browser did not do what the scenario expects, or an attacker page read a credentialed response (a
    finding fails the item even when the case expects it); carries the measured row."""

    def __init__(self, row: ResultRow) -> None:
        super().__init__(f"FINDING: {row.finding}" if row.finding else f"{row.outcome}, expected {row.expected}")
        self.row = row


class ScenarioFile(pytest.File):
    """A scenario file (`cors_*.toml`, `test_*.toml`, or any .toml named on the command line)."""

    def collect(self) -> Iterator[CaseItem]:
        scenario, problems = load_file(self.path, scenario_id(self.path, LIBRARY))
        if scenario is None:
            raise ScenarioError(problems)
        sessions = self.config.stash[SESSIONS]
        sessions.known.append(scenario)
        for case in scenario.cases:
            for pin in sessions.pin_ids():
                for browser in sessions.browser_names():
                    parameter = f"{browser}-{pin}" if pin else browser
                    yield CaseItem.from_parent(
                        self, name=f"{case.name}[{parameter}]", scenario=scenario, case=case, browser=browser, pin=pin
                    )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Optional[str] = None) -> Any:
        if isinstance(excinfo.value, (ScenarioError, BrowserUnavailable)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)  # type: ignore[arg-type]


class CaseItem(pytest.Item):
    """One cell: a case of a scenario in one browser under one pin."""

    def __init__(self, *, scenario: Scenario, case: Case, browser: str, pin: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.case = case
        self.browser = browser
        self.pin = pin
        self.row: Optional[ResultRow] = None
        self.add_marker(pytest.mark.cors_lab)

    def runtest(self) -> None:
        sessions = self.config.stash[SESSIONS]
        self.row = sessions.measure(self.scenario, self.case, self.browser, self.pin)
        # Which launch measured it (process and browser): JUnit readers can see that each worker launched once.
        self.user_properties += [
            ("outcome", self.row.outcome),
            ("expected", self.row.expected),
            ("browser", sessions.launched.get(self.browser, "")),
            ("launches", f"{os.getpid()}/{self.browser}:{sessions.launches.get(self.browser, 0)}"),
        ]
        if self.row.finding:
            self.user_properties.append(("finding", self.row.finding))
        elif self.row.accepted:
            self.user_properties.append(("accepted", self.row.accepted))
        if unsupported(self.row):  # not run: this browser cannot be told what the case needs; no pass, no failure
            pytest.skip(self.row.reason or f"{self.row.browser} cannot run this case")
        if not self.row.matched:
            raise CellMismatch(self.row)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Optional[str] = None) -> Any:
        if isinstance(excinfo.value, CellMismatch):
            return "\n".join([str(excinfo.value)] + story([excinfo.value.row.to_dict()]))
        if isinstance(excinfo.value, BrowserUnavailable):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)  # type: ignore[arg-type]

    def reportinfo(self) -> Tuple[Any, Optional[int], str]:
        return self.path, self.case.line - 1 if self.case.line else None, f"{self.scenario.id} :: {self.name}"
