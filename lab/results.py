"""The result row and the results file: the stable, documented output users depend on.

Rows are streamed to `FILE.partial.jsonl` as they are measured, so that an
interrupted or killed run loses nothing; `finish()` writes the final JSON
document and removes the partial file.
"""

from __future__ import annotations

import json
import platform
import sys
import threading
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .browsers.base import BrowserInfo
from .routing import Asked

SCHEMA = 1


@dataclass
class ResultRow:
    """One (scenario, case, browser) cell. `outcome` is allowed / blocked / error / timeout, or `UNSUPPORTED`.

    Results files written before `attacker`, `finding` and `accepted` lack them: `load_document` and `read_earlier`
    fill in the defaults (`with_defaults`); code handed rows from elsewhere reads them with `row.get`."""

    scenario: str
    group: str
    case: str
    browser: str
    engine: str
    outcome: str
    expected: str
    matched: bool
    pin: str = ""
    status: Optional[int] = None
    response_type: Optional[str] = None
    preflight: bool = False
    preflights: int = 0
    cookies_sent: bool = False  # did any request of this case reach the server with a Cookie header
    expected_cookies_sent: Optional[bool] = None  # the case's expectation for cookies_sent, when it has one
    attempts: List[Dict[str, Any]] = field(default_factory=list)
    readable_headers: Optional[Dict[str, str]] = None
    read_headers: Dict[str, Optional[str]] = field(default_factory=dict)
    error: Optional[str] = None
    console: List[str] = field(default_factory=list)
    reason: Optional[str] = None
    exchanges: List[Dict[str, Any]] = field(default_factory=list)
    duration_ms: float = 0.0
    request: Dict[str, Any] = field(default_factory=dict)  # what the page asked fetch() for
    model: Optional[Dict[str, Any]] = None  # the Fetch-standard model's prediction, rule and fix (lab/standard.py)
    agrees: Optional[bool] = None  # does the browser's outcome match the model (None for error / timeout)
    browser_reason: Optional[str] = None  # the browser's own reason for a refusal, or why it is not known
    attacker: bool = False  # the case's page is an attacker's (`attacker = true`)
    finding: Optional[str] = None  # set when an attacker page read a credentialed response: the cell fails
    accepted: Optional[str] = None  # ... unless the case accepts it: then why it is fine (and `finding` stays None)
    local_network: Optional[Dict[str, Any]] = None  # a local-network request: spaces, permission, what was asked

    def to_dict(self) -> Dict[str, Any]:
        # Shallow: the fields already hold plain JSON values, and asdict's deep copy was a tenth of the lab's CPU.
        return {name: getattr(self, name) for name in _ROW_FIELDS}


UNSUPPORTED = "unsupported"
"""The outcome of a cell the lab did not run: this browser engine cannot be told what the case needs (the row's
`reason` says what). Like pytest's "skipped": never a pass, never a failure, counted and shown apart."""
NOT_MEASURED = "n/a"
"""How tables and the terminal show an unsupported cell (a note beside them says why)."""


def _field(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)


def unsupported(row: Any) -> bool:
    """Whether a row (a `ResultRow` or a dict) was not measured because its browser cannot do what the case needs:
    such a row is `matched = False` but is no failure, so every reader asks this before counting it as unexpected."""
    return _field(row, "outcome") == UNSUPPORTED


def failed(row: Any) -> bool:
    """Whether a row counts against the run: not what its case expects (a finding included), and not unsupported
    (which is `matched = False` only because nothing was measured)."""
    return not _field(row, "matched") and not unsupported(row)


def passed(rows: Sequence[Any]) -> bool:
    """A run's verdict: at least one row was measured and none failed. Rows that are all unsupported (or no rows)
    measured nothing, so they do not pass, just as an empty run does not."""
    return any(not unsupported(row) for row in rows) and not any(failed(row) for row in rows)


_ROW_FIELDS = tuple(f.name for f in fields(ResultRow))
_ROW_DEFAULTS = {
    f.name: f.default for f in fields(ResultRow) if f.name in ("attacker", "finding", "accepted", "local_network")
}


def with_defaults(row: Dict[str, Any]) -> Dict[str, Any]:
    """A row read from a results file, with every field a newer lab added at its default (an older file has no
    `attacker`, `finding` or `accepted`: its cells were never judged as findings, which is what the defaults say)."""
    for name, default in _ROW_DEFAULTS.items():
        row.setdefault(name, default)
    return row


def _version(package: str) -> Optional[str]:
    try:
        from importlib.metadata import version

        return version(package)
    except Exception:
        return None


def environment() -> Dict[str, Any]:
    """Versions that decide the outcomes: python, flask, flask-cors, werkzeug, playwright."""
    return {
        "python": platform.python_version(),
        "flask": _version("flask"),
        "flask-cors": _version("flask-cors"),
        "werkzeug": _version("werkzeug"),
        "playwright": _version("playwright"),
        "cors-lab": _version("cors-lab"),
        "platform": platform.platform(),
    }


def read_earlier(path: Path) -> Optional[Dict[str, Any]]:
    """The cells an interrupted or killed run left: its partial stream if there is one, else its results file."""
    partial = path.with_name(path.name + ".partial.jsonl")
    if partial.exists():
        document: Dict[str, Any] = {"results": [], "browsers": []}
        for line in partial.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the line a kill cut in half
            if "row" in record:
                document["results"].append(with_defaults(record["row"]))
            elif "browser" in record:
                document["browsers"].append(record["browser"])
        return document
    if path.exists():
        document = json.loads(path.read_text(encoding="utf-8"))
        for row in document.get("results", []):
            with_defaults(row)
        return document
    return None


def cell_key(row: Dict[str, Any]) -> tuple:
    return (row["scenario"], row["case"], row["browser"], row.get("pin", ""))


def _browser_order(info: BrowserInfo) -> tuple:
    engines = ("chromium", "firefox", "webkit")
    return (engines.index(info.engine) if info.engine in engines else len(engines), info.name)


class ResultsFile:
    """Collects rows (thread-safe) and streams them to disk when a path is given."""

    def __init__(
        self, path: Optional[Path], argv: Optional[List[str]] = None, earlier: Optional[Dict[str, Any]] = None
    ) -> None:
        self.path = path
        self.cells: List[Dict[str, Any]] = (
            list(earlier["results"]) if earlier else []
        )  # resumed run's cells, then new ones
        self.browsers: Dict[str, BrowserInfo] = {}
        self.pins: List[Dict[str, Any]] = []
        self.claims: List[Dict[str, Any]] = []
        self.routing: Dict[str, Dict[str, Dict[str, int]]] = {}  # browser -> routed / refused -> "host:port" -> count
        self.started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.argv = argv if argv is not None else sys.argv[1:]
        self._lock = threading.Lock()
        self._partial = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._partial_path = path.with_name(path.name + ".partial.jsonl")
            self._partial = self._partial_path.open("w", encoding="utf-8")
            self._write_line({"environment": environment(), "started": self.started})
            for cell in self.cells:
                self._write_line({"row": cell})
        for browser in (earlier or {}).get("browsers", []):
            self.browsers[browser["name"]] = BrowserInfo(**{k: browser[k] for k in BrowserInfo.__dataclass_fields__})

    def _write_line(self, record: Dict[str, Any]) -> None:
        if self._partial is not None:
            self._partial.write(json.dumps(record) + "\n")
            self._partial.flush()

    def set_claims(self, claims: List[Dict[str, Any]]) -> None:
        """The claims the scenarios test, so that reports can give each a verdict from the cells."""
        with self._lock:
            self.claims = claims
            self._write_line({"claims": claims})

    def set_pins(self, pins: List[Dict[str, Any]]) -> None:
        """The backends' versions (or why a pin could not run): one entry per pin label."""
        with self._lock:
            self.pins = pins
            self._write_line({"pins": pins})

    def add_browser(self, info: BrowserInfo) -> None:
        with self._lock:
            self.browsers[info.name] = info
            self._write_line({"browser": info.to_dict()})

    def add_routing(self, browser: str, asked: Sequence[Asked]) -> None:
        """Every name a browser asked the lab's routing for: served (a declared origin) or refused (sent nowhere)."""
        with self._lock:
            entry = self.routing.setdefault(browser, {"routed": {}, "refused": {}})
            for item in asked:
                name = f"{item.host}:{item.port}" if item.host else "(not an absolute http URL)"
                bucket = entry["routed" if item.routed else "refused"]
                bucket[name] = bucket.get(name, 0) + 1
            self._write_line({"routing": {browser: entry}})

    def add(self, row: ResultRow) -> None:
        with self._lock:
            cell = row.to_dict()
            self.cells.append(cell)
            self._write_line({"row": cell})

    def document(self, complete: bool) -> Dict[str, Any]:
        return {
            "schema": SCHEMA,
            "complete": complete,
            "started": self.started,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": ["cors-lab"] + list(self.argv),
            "environment": environment(),
            "browsers": [info.to_dict() for info in sorted(self.browsers.values(), key=_browser_order)],
            "pins": self.pins,
            "claims": self.claims,
            "routing": self.routing,
            "results": self.cells,
        }

    def finish(self, complete: bool = True) -> None:
        """Write the final document; `complete=False` marks an interrupted run."""
        if self.path is None or self._partial is None:
            return
        with self._lock:
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(json.dumps(self.document(complete), indent=1) + "\n", encoding="utf-8")
            temporary.replace(self.path)
            self._partial.close()
            self._partial = None
            self._partial_path.unlink()
