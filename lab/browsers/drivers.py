"""The one driver table: per engine and browser source, which drivers can run it, the default first.

Playwright is the product's driver: it runs Playwright's own builds, and stock
Chromium (`executable_path`) and stock Firefox (`channel="moz-firefox"`, over
WebDriver BiDi) too. For stock browsers the lab also has small clients of its own
(`native`: CDP for Chromium, BiDi for Firefox, W3C WebDriver for WebKitGTK and
Safari), the default there: they are faster, and Firefox tells its CORS reasons
only to them. Both give the same verdicts (tests/test_driver_parity.py).
`--driver playwright|native`, or per engine `--driver firefox=playwright`, picks
one where both can; Playwright servers (`--connect`) and WebDriver endpoints
(`--webdriver`) are sources of their own, named on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

ENGINES = ("chromium", "firefox", "webkit")
FIREFOX_THROUGH_PLAYWRIGHT = (
    "Firefox through Playwright does not report its CORS reason to the lab (its own BiDi client does:"
    " --driver firefox=native)"
)
WEBDRIVER_SILENT = "WebKit over WebDriver does not report its CORS reason to the lab"

PLAYWRIGHT = "playwright"
NATIVE = "native"
DRIVERS = (PLAYWRIGHT, NATIVE)

BUILD = "Playwright's build"
SYSTEM = "system binary"
WEBKITGTK = "WebKitGTK MiniBrowser"
SAFARI = "Safari"
SERVER = "Playwright server (--connect)"
ENDPOINT = "WebDriver endpoint (--webdriver)"


@dataclass(frozen=True)
class DriverRow:
    """One way to run one engine: from which source, with which driver, described as results and doctor show it."""

    engine: str
    source: str
    driver: str
    described: str
    silent: str = ""  # why cells of this row carry no browser reason for a refusal ("": the browser tells it)


TABLE: Tuple[DriverRow, ...] = (
    DriverRow("chromium", BUILD, PLAYWRIGHT, "playwright (Playwright's build)"),
    DriverRow("chromium", SYSTEM, NATIVE, "devtools protocol (system binary)"),
    DriverRow("chromium", SYSTEM, PLAYWRIGHT, "playwright (system binary)"),
    DriverRow("firefox", BUILD, PLAYWRIGHT, "playwright (Playwright's build)", FIREFOX_THROUGH_PLAYWRIGHT),
    DriverRow("firefox", SYSTEM, NATIVE, "webdriver bidi (system binary)"),
    DriverRow(
        "firefox", SYSTEM, PLAYWRIGHT, "playwright over webdriver bidi (system binary)", FIREFOX_THROUGH_PLAYWRIGHT
    ),
    DriverRow("webkit", BUILD, PLAYWRIGHT, "playwright (Playwright's build)"),
    DriverRow("webkit", WEBKITGTK, NATIVE, "webdriver (WebKitWebDriver)", WEBDRIVER_SILENT),
    DriverRow("webkit", SAFARI, NATIVE, "webdriver (safaridriver)", WEBDRIVER_SILENT),
    DriverRow("*", SERVER, PLAYWRIGHT, "playwright server"),
    DriverRow("*", ENDPOINT, NATIVE, "webdriver (remote)"),
)
"""Sources in the order they are preferred (Playwright's build first); within a source, the default driver first."""

SOURCE_ORDER: Tuple[str, ...] = (BUILD, SYSTEM, WEBKITGTK, SAFARI)


class DriverChoiceError(ValueError):
    """A --driver value that names no driver, or an engine none of whose browsers here that driver can run."""


def parse_driver_choice(values: Sequence[str]) -> Dict[str, str]:
    """`--driver playwright` (every engine) and `--driver firefox=native` (one) -> {"*": ..., "firefox": ...}."""
    chosen: Dict[str, str] = {}
    for value in values:
        engine, separator, driver = value.rpartition("=")
        engine = engine if separator else "*"
        if driver not in DRIVERS or (engine != "*" and engine not in ENGINES):
            raise DriverChoiceError(
                f"--driver {value!r}: expected {' or '.join(DRIVERS)}, or ENGINE=DRIVER with ENGINE one of"
                f" {', '.join(ENGINES)} (for example firefox=playwright)"
            )
        chosen[engine] = driver
    return chosen


def rows_for(engine: str, sources: Sequence[str]) -> List[DriverRow]:
    """The table's rows for an engine whose browsers here come from `sources`, in preference order."""
    return [
        row
        for source in SOURCE_ORDER
        if source in sources
        for row in TABLE
        if row.engine == engine and row.source == source
    ]


def choose(engine: str, sources: Sequence[str], chosen: Mapping[str, str]) -> Optional[DriverRow]:
    """The row that runs an engine: the first one whose driver the user allows. A driver asked for this engine by
    name that cannot run any of its browsers here is an error; one asked for every engine applies where it can."""
    rows = rows_for(engine, sources)
    wanted = chosen.get(engine)
    if wanted is not None:
        matching = [row for row in rows if row.driver == wanted]
        if rows and not matching:
            here = ", ".join(sorted({row.driver for row in rows}))
            raise DriverChoiceError(
                f"--driver {engine}={wanted}: {wanted} cannot drive {engine} here ({', '.join(sources)}); drivers"
                f" here for {engine}: {here}"
            )
        return matching[0] if matching else None
    everywhere = chosen.get("*")
    return next((row for row in rows if row.driver == everywhere), rows[0] if rows else None)
