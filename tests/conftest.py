"""Fixtures for tests that drive real browsers.

Browser tests skip when a browser is missing, unless CORS_LAB_REQUIRE_BROWSERS=1
(CI sets it), in which case a missing browser fails the run instead of hiding.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pytest

from lab.browsers.base import Candidate
from lab.browsers.discovery import find_browsers
from lab.results import ResultRow
from lab.run import RunOptions, Sink, run_lab
from lab.scenario import load_scenarios

E2E = Path(__file__).parent / "e2e"
ROOT = Path(__file__).parent.parent


def lab_cli(*args: str) -> subprocess.CompletedProcess:
    """`cors-lab ARGS` in a separate process, from the repository root, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, timeout=900, cwd=ROOT)

try:  # property tests: random exploration on developers' machines, the same examples every time in CI
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI"):
        _hypothesis_settings.load_profile("ci")
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    pass
ENGINES = ("chromium", "firefox", "webkit")


class Collect(Sink):
    def __init__(self) -> None:
        self.rows: List[ResultRow] = []

    def row(self, row: ResultRow) -> None:
        self.rows.append(row)


def run_rows(paths: Sequence[Path], candidates: Sequence[Candidate], seed: Optional[int] = None,
             timeout: float = 2.0) -> Dict[Tuple[str, str, str], ResultRow]:
    """Run scenarios through the real runner; cells keyed by (scenario, case, browser)."""
    sink = Collect()
    assert run_lab(load_scenarios(list(paths)), candidates, RunOptions(timeout, seed), sink)
    return {(r.scenario, r.case, r.browser): r for r in sink.rows}


@pytest.fixture(scope="session")
def browsers() -> List[Candidate]:
    found = [c for c in find_browsers() if c.name in ENGINES]
    missing = set(ENGINES) - {c.name for c in found}
    if missing:
        message = f"browsers not found: {', '.join(sorted(missing))} (cors-lab doctor says how to install them)"
        if os.environ.get("CORS_LAB_REQUIRE_BROWSERS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def e2e_cells(browsers: List[Candidate]) -> Dict[Tuple[str, str, str], ResultRow]:
    """The test scenarios, run once per session in every browser."""
    return run_rows([E2E], browsers)
