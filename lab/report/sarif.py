"""SARIF 2.1.0 from result rows, so that GitHub code scanning (or any SARIF viewer) shows cors-lab's findings as
alerts on the scenario file's case lines.

A reader of the rows, like ci.py: nothing here runs anything. Two kinds of result:

- every cell that is not what its scenario expects (`unexpected-outcome`, or `lab-error` when the cell ended in an
  error or a timeout), the same cells JUnit fails and the annotations mark;
- every cell in which an attacker's page READ A RESPONSE SENT WITH CREDENTIALS (`credentialed-read-by-untrusted-origin`),
  in a security scenario or a file `cors-lab scan` wrote, even when the scenario expects it: a scenario that
  documents a hole (`expect = "allowed"` from an attacker's page) passes as a test, and the alert is what keeps the
  hole visible until the configuration closes it.

A cell that is both gets the security result only: one alert per cell.

Which pages are an attacker's is decided per case by `untrusted_cases`, from the loaded scenarios (the rows only
have the page's URL, not the scenario's intent):

- a case in a *security scenario* (group `security`, or tagged `security`, so a copy of the audit template kept in
  another folder still counts) is an attacker's when it fetches from a sandboxed frame (`Origin: null`) or from a
  page the scenario does not trust. Trusted are `app` (the lab's frontend page, every case's default `page`) and
  the page of any case named `control...` that sends credentials: the built-in security scenarios name the
  legitimate frontend's requests that way (`control: credentialed GET from www.example.localhost`);
- a case in a *scan file* (tagged `scan`, as `cors-lab scan` writes it) is an attacker's when it fetches from a
  sandboxed frame or from one of the attacker origins the scan derived from the trusted ones
  (`lab.scan.attacker_origins`): the same pages the scan reports as FINDINGs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Set, Tuple
from urllib.parse import quote

from ..scenario.model import Origin, Scenario
from .ci import Location, _cell_name, _message

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
UNEXPECTED = "cors-lab/unexpected-outcome"
LAB_ERROR = "cors-lab/lab-error"
CREDENTIALED_READ = "cors-lab/credentialed-read-by-untrusted-origin"
SRCROOT = "%SRCROOT%"
FINGERPRINT = "corsLabCell/v1"
"""partialFingerprints key: a hash of the cell and the rule, stable across runs and edits of the file, so that
code scanning keeps one alert per cell instead of opening a new one whenever a case moves to another line."""

RULES: Tuple[Dict[str, Any], ...] = (
    {
        "id": UNEXPECTED,
        "name": "UnexpectedOutcome",
        "shortDescription": {"text": "A browser did not do what the scenario expects"},
        "fullDescription": {"text": "A cell (scenario, case, browser, pin) ended allowed where the scenario expects"
                                    " blocked, or the other way round (or a cookie was or was not sent against the"
                                    " case's expectation): the CORS configuration, the browser or the expectation changed."},
        "help": {"text": "Run `cors-lab explain SCENARIO:CASE` for what was exchanged, the browser's and the standard's"
                         " reason, and what to change. If the new behaviour is the intended one, update `expect`"
                         " (or `expect_per_browser` / `expect_by_version`) in the scenario file."},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["cors", "correctness"], "precision": "very-high"},
    },
    {
        "id": LAB_ERROR,
        "name": "LabError",
        "shortDescription": {"text": "A case ended in an error or a timeout the scenario does not expect"},
        "fullDescription": {"text": "The cell could not be measured as allowed or blocked: the backend did not start,"
                                    " the app raised, the browser failed or the fetch timed out, and the scenario does"
                                    " not expect that."},
        "help": {"text": "The message carries the lab's reason. Check that the app starts under this pin and that the"
                         " browser is usable (`cors-lab doctor`); raise `--timeout` for slow backends."},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["cors", "reliability"], "precision": "very-high"},
    },
    {
        "id": CREDENTIALED_READ,
        "name": "CredentialedReadByUntrustedOrigin",
        "shortDescription": {"text": "An attacker's page reads a response sent with the user's credentials"},
        "fullDescription": {"text": "In a security scenario or a scan file, a page the scenario does not trust (another"
                                    " site, a look-alike host, a sandboxed frame's null origin) fetched with credentials"
                                    " \"include\" and the browser let it read the response: the server answered with"
                                    " its origin in Access-Control-Allow-Origin and Access-Control-Allow-Credentials:"
                                    " true. Any page on that origin can read the user's data and act as the user."
                                    " Reported even when the scenario expects it, as a known hole."},
        "help": {"text": "List only the origins you trust in flask-cors `origins` (or your own hook), never reflect the"
                         " request's Origin with credentials, never trust `null`, and write any regex anchored and"
                         " escaped (^https://app\\.example\\.com$). `cors-lab explain SCENARIO:CASE` shows what the"
                         " server answered."},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["security", "cors", "external/cwe/cwe-942"], "security-severity": "8.1",
                       "precision": "high", "problem.severity": "error"},
    },
)
RULE_INDEX = {rule["id"]: index for index, rule in enumerate(RULES)}


def _origin_text(origin: Origin) -> str:
    """The origin as a scan file writes it (lab-assigned `*.localhost` origins have no port yet)."""
    return origin.as_written or f"{origin.scheme}://{origin.host}"


def _is_scan(scenario: Scenario) -> bool:
    return "scan" in scenario.tags


def _is_security(scenario: Scenario) -> bool:
    return scenario.group == "security" or "security" in scenario.tags


def _attacker_pages(scenario: Scenario) -> FrozenSet[str]:
    """The pages of a scenario that an attacker controls (sandboxed frames aside), by the rules in the docstring."""
    if _is_scan(scenario):
        from ..scan import attacker_origins

        # The scan wrote the trusted origins, the attacker origins derived from them, and `api`: the attackers are
        # the names attacker_origins gives (it derives nothing from a localhost origin, and no name it gives exists
        # in the file unless the scan wrote it).
        derived = attacker_origins({name: _origin_text(o) for name, o in scenario.origins.items() if name != "api"})
        return frozenset(set(derived) & set(scenario.origins))
    if _is_security(scenario):
        trusted = {"app"} | {c.page for c in scenario.cases
                             if c.name.lower().startswith("control") and c.credentials == "include" and not c.sandboxed}
        return frozenset(c.page for c in scenario.cases if c.page not in trusted)
    return frozenset()


def untrusted_cases(scenarios: Sequence[Scenario]) -> FrozenSet[Tuple[str, str]]:
    """(scenario id, case name) of every case of a security scenario or a scan file whose page is an attacker's:
    a sandboxed frame, or a page the scenario does not trust (see the module docstring)."""
    found: Set[Tuple[str, str]] = set()
    for scenario in scenarios:
        if not (_is_scan(scenario) or _is_security(scenario)):
            continue
        attackers = _attacker_pages(scenario)
        found |= {(scenario.id, c.name) for c in scenario.cases if c.sandboxed or c.page in attackers}
    return frozenset(found)


def is_credentialed_read(row: Mapping[str, Any], untrusted: FrozenSet[Tuple[str, str]]) -> bool:
    """An attacker's page read a response to a request sent with credentials "include"."""
    return (row["outcome"] == "allowed" and (row.get("request") or {}).get("credentials") == "include"
            and (row["scenario"], row["case"]) in untrusted)


def rule_of(row: Mapping[str, Any], untrusted: FrozenSet[Tuple[str, str]]) -> Optional[str]:
    """The one rule a cell breaks, or None: the security rule wins over the unexpected outcome it may also be."""
    if is_credentialed_read(row, untrusted):
        return CREDENTIALED_READ
    if row["matched"]:
        return None
    return UNEXPECTED if row["outcome"] in ("allowed", "blocked") else LAB_ERROR


def fingerprint(row: Mapping[str, Any], rule: str) -> str:
    """A stable hash of scenario, case, browser, pin and rule (not of the line, which moves when the file is edited)."""
    key = "\x00".join((row["scenario"], row["case"], row["browser"], row.get("pin") or "", rule))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _artifact(file: str, root: Path) -> Dict[str, str]:
    """The scenario file relative to `root` (%SRCROOT%) as code scanning maps it to the repository; else a file: URI."""
    path = Path(file).resolve()
    try:
        return {"uri": quote(path.relative_to(root.resolve()).as_posix()), "uriBaseId": SRCROOT}
    except ValueError:
        return {"uri": path.as_uri()}


def _text(row: Mapping[str, Any], rule: str) -> str:
    cell = f"{row['scenario']} :: {_cell_name(row)}"
    if rule != CREDENTIALED_READ:
        return f"{cell}: {_message(row)}"
    page = (row.get("request") or {}).get("page_origin") or "an attacker's page"
    if (row.get("request") or {}).get("sandboxed"):
        page = f"a sandboxed frame (Origin: null) on {page}"
    why = _message(row) if not row["matched"] else "allowed, as the scenario expects: a known hole"
    return f"{cell}: {page} read a response sent with credentials ({why})"


def _result(row: Mapping[str, Any], rule: str, where: Mapping[Tuple[str, str], Location], root: Path) -> Dict[str, Any]:
    result: Dict[str, Any] = {
        "ruleId": rule,
        "ruleIndex": RULE_INDEX[rule],
        "level": "error",
        "message": {"text": _text(row, rule)},
        "partialFingerprints": {FINGERPRINT: fingerprint(row, rule)},
        "properties": {k: row.get(k) for k in ("scenario", "case", "browser", "pin", "outcome", "expected", "matched")},
    }
    located = where.get((row["scenario"], row["case"]))
    if located and located[0]:
        file, line = located
        result["locations"] = [{"physicalLocation": {"artifactLocation": _artifact(file, root),
                                                     "region": {"startLine": max(1, line)}}}]
    return result


def _tool_version() -> Optional[str]:
    try:
        from importlib.metadata import version

        return version("cors-lab")
    except Exception:  # a checkout that was never installed: the driver goes without a version
        return None


def sarif_log(rows: Sequence[Mapping[str, Any]], where: Mapping[Tuple[str, str], Location],
              untrusted: FrozenSet[Tuple[str, str]], root: Path) -> Dict[str, Any]:
    """One SARIF 2.1.0 run: the rules, and a result per cell that breaks one (see `rule_of`), located at the
    scenario file (relative to `root`, the %SRCROOT% code scanning resolves against the checkout) and the case's line."""
    driver: Dict[str, Any] = {"name": "cors-lab", "rules": [dict(rule) for rule in RULES]}
    version = _tool_version()
    if version:
        driver["version"] = version
        driver["semanticVersion"] = version
    results: List[Dict[str, Any]] = []
    for row in rows:
        rule = rule_of(row, untrusted)
        if rule is not None:
            results.append(_result(row, rule, where, root))
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": driver},
            "originalUriBaseIds": {SRCROOT: {"uri": root.resolve().as_uri() + "/"}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
