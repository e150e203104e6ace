"""Playwright and the lab's own clients give the same verdicts: the whole built-in library in stock Chromium and
Firefox, once through each driver, compared cell by cell (outcome, status, preflight, readable headers).

This is the product's promise on most users' machines, where Playwright drives every engine, while this machine's
default for stock browsers is the lab's own CDP and BiDi clients."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Tuple

import pytest

from lab.browsers.discovery import find_browsers
from lab.browsers.drivers import NATIVE, PLAYWRIGHT
from lab.results import UNSUPPORTED, failed
from lab.scenario.load import LIBRARY
from tests.conftest import run_rows

ENGINES = ("chromium", "firefox")
Cell = Tuple[str, Any, bool, Any]


SAID: Dict[str, List[str]] = {}  # driver -> the browser reasons of Firefox's refused cells


def _cells(driver: str) -> Dict[Tuple[str, str, str], Cell]:
    candidates = [c for c in find_browsers(drivers={"*": driver}) if c.engine in ENGINES]
    assert {c.engine for c in candidates} == set(ENGINES)
    assert all(c.driver.startswith("playwright") == (driver == PLAYWRIGHT) for c in candidates), candidates
    rows = run_rows([LIBRARY], candidates, timeout=10.0)
    unexpected = [(key, row.outcome, row.expected, row.reason) for key, row in rows.items() if failed(row)]
    assert not unexpected, unexpected[:10]  # an error is compared only where the library expects the app to fail
    SAID[driver] = [r.browser_reason for r in rows.values() if r.engine == "firefox" and r.outcome == "blocked"]
    return {key: (row.outcome, row.status, row.preflight, _readable(row.readable_headers)) for key, row in rows.items()}


def _readable(headers: Any) -> Any:
    """The headers the page could read, less what differs between any two runs: the Date, and the ports the lab
    assigned to origins (each run has its own)."""
    if headers is None:
        return None
    return sorted((name, re.sub(r":\d+", ":PORT", value)) for name, value in headers.items() if name != "date")


def test_playwright_and_the_labs_own_clients_agree_on_every_cell_of_the_library(browsers: list) -> None:
    native, playwright = _cells(NATIVE), _cells(PLAYWRIGHT)
    assert native.keys() == playwright.keys() and len(native) > 500
    # A cell one driver cannot set up is not compared (Playwright cannot deny a permission in Firefox): only those.
    one_sided = [k for k in native if (native[k][0] == UNSUPPORTED) != (playwright[k][0] == UNSUPPORTED)]
    assert all(k[2] == "firefox" and playwright[k][0] == UNSUPPORTED and "denied" in k[1] for k in one_sided), one_sided
    differences: List[str] = [
        f"{key}: native {native[key]} != playwright {playwright[key]}"
        for key in sorted(native)
        if native[key] != playwright[key] and key not in one_sided
    ]
    assert not differences, "\n".join(differences[:30])
    # What one driver cannot report, its cells say: Firefox's CORS console messages reach only the lab's BiDi client.
    assert SAID[PLAYWRIGHT] and all(
        reason.startswith("Firefox through Playwright does not report") for reason in SAID[PLAYWRIGHT]
    )
    assert sum("CORS" in reason or "Security Error" in reason for reason in SAID[NATIVE]) > len(SAID[NATIVE]) // 2


pytestmark = pytest.mark.browser
