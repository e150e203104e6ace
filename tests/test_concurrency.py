"""Cases in flight together must not change any cell: the whole library, every engine, both ways.

`cors-lab run` runs the cases of a window of scenarios together (one round trip per page) and collects paused cases
later; `--one-at-a-time` runs each case alone with nothing else in flight, as the lab did before. Every cell's
observations must be the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Tuple

import pytest

from tests.conftest import lab_cli

pytestmark = pytest.mark.browser


def _observed(path: Path) -> Dict[Tuple[str, str, str], Tuple[Any, ...]]:
    rows = json.loads(path.read_text())["results"]
    return {
        (r["scenario"], r["case"], r["browser"]): (
            r["outcome"],
            r["status"],
            r["response_type"],
            r["preflights"],
            r["cookies_sent"],
            r["matched"],
            tuple(a["outcome"] for a in r["attempts"]),
            tuple(sorted((r["read_headers"] or {}).items())),
            tuple(sorted(r["readable_headers"] or {})),
        )
        for r in rows
    }


def test_concurrency_changes_no_cell_of_the_library(browsers: list, tmp_path: Path) -> None:
    chosen = [argument for candidate in browsers for argument in ("--browser", candidate.name)]
    together, alone = tmp_path / "together.json", tmp_path / "alone.json"
    first = lab_cli("run", "--quiet", *chosen, "--out", str(together))
    second = lab_cli("run", "--quiet", "--one-at-a-time", *chosen, "--out", str(alone))
    assert first.returncode == 0 and second.returncode == 0, first.stdout[-2000:] + second.stdout[-2000:]
    measured, reference = _observed(together), _observed(alone)
    assert len(measured) == len(reference) > 1000
    changed = {key: (measured[key], reference[key]) for key in reference if measured.get(key) != reference[key]}
    assert not changed, changed
