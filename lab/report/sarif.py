"""SARIF 2.1.0 from result rows, so that GitHub code scanning (or any SARIF viewer) shows cors-lab's findings as
alerts on the scenario file's case lines.

A reader of the rows, like ci.py: nothing here runs anything. Three kinds of result:

- every cell that is not what its scenario expects (`unexpected-outcome`, or `lab-error` when the cell ended in an
  error or a timeout), the same cells JUnit fails and the annotations mark;
- every cell in which an attacker's page READ A RESPONSE SENT WITH CREDENTIALS (`credentialed-read-by-untrusted-origin`):
  a finding (the row's `finding`), which fails the run; or, when the case says why it is fine (`accepted`), the
  same result with an in-source suppression carrying that reason, so that the accepted hole stays in the log;
- once per app (scenario) and rule, what its configuration allows (lab/findings.py: `reflects-any-origin`,
  `null-origin`, `look-alike-origin`, `http-origin`, `attacker-origin`), with every route that showed it: what a
  reviewer fixes.

A cell that is both unexpected and a credentialed read gets the security result only: one alert per cell. An
unsupported cell (not run: its browser cannot do what the case needs) gets no result, like a cell as expected, but
is not one: the run's `properties.notMeasured` counts such cells, with their reasons.

A cell is an attacker's when its row says so (`attacker`, from the case's `attacker = true`, as `cors-lab scan`
writes it). Scenarios written before that key get the same treatment from `untrusted_cases`: in a *security
scenario* (group `security`, or tagged `security`) a case is an attacker's when it fetches from a sandboxed frame
(`Origin: null`) or from a page the scenario does not trust. Trusted are `app` (the lab's frontend page, every
case's default `page`) and the page of any case named `control...` that sends credentials: the built-in security
scenarios name the legitimate frontend's requests that way. Such a documented hole that the scenario expects is
reported as "a known hole".
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Set, Tuple
from urllib.parse import quote

from ..findings import RULES as CONFIG_RULES
from ..findings import ConfigFinding, config_findings
from ..results import failed, unsupported
from ..scenario.model import Scenario
from .ci import Location, _cell_name, _message

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
UNEXPECTED = "cors-lab/unexpected-outcome"
LAB_ERROR = "cors-lab/lab-error"
CREDENTIALED_READ = "cors-lab/credentialed-read-by-untrusted-origin"
SRCROOT = "%SRCROOT%"
FINGERPRINT = "corsLabCell/v1"
"""partialFingerprints key: a hash of the cell and the rule, stable across runs and edits of the file, so that
code scanning keeps one alert per cell instead of opening a new one whenever a case moves to another line."""

SECURITY_PROPERTIES: Dict[str, Any] = {
    "tags": ["security", "cors", "external/cwe/cwe-942"],
    "security-severity": "8.1",
    "precision": "high",
    "problem.severity": "error",
}
"""What code scanning reads of a security rule (a credentialed read, a configuration finding): CWE-942, high."""
CELL_RULES: Tuple[Dict[str, Any], ...] = (
    {
        "id": UNEXPECTED,
        "name": "UnexpectedOutcome",
        "shortDescription": {"text": "A browser did not do what the scenario expects"},
        "fullDescription": {
            "text": "A cell (scenario, case, browser, pin) ended allowed where the scenario expects"
            " blocked, or the other way round (or a cookie was or was not sent against the"
            " case's expectation): the CORS configuration, the browser or the expectation changed."
        },
        "help": {
            "text": "Run `cors-lab explain SCENARIO:CASE` for what was exchanged, the browser's and the standard's"
            " reason, and what to change. If the new behaviour is the intended one, update `expect`"
            " (or `expect_per_browser` / `expect_by_version`) in the scenario file."
        },
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["cors", "correctness"], "precision": "very-high"},
    },
    {
        "id": LAB_ERROR,
        "name": "LabError",
        "shortDescription": {"text": "A case ended in an error or a timeout the scenario does not expect"},
        "fullDescription": {
            "text": "The cell could not be measured as allowed or blocked: the backend did not start,"
            " the app raised, the browser failed or the fetch timed out, and the scenario does"
            " not expect that."
        },
        "help": {
            "text": "The message carries the lab's reason. Check that the app starts under this pin and that the"
            " browser is usable (`cors-lab doctor`); raise `--timeout` for slow backends."
        },
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["cors", "reliability"], "precision": "very-high"},
    },
    {
        "id": CREDENTIALED_READ,
        "name": "CredentialedReadByUntrustedOrigin",
        "shortDescription": {"text": "An attacker's page reads a response sent with the user's credentials"},
        "fullDescription": {
            "text": "An attacker's page (a case with attacker = true, as cors-lab scan writes them, or"
            " an untrusted page of a security scenario: another site, a look-alike host, a"
            ' sandboxed frame\'s null origin) fetched with credentials "include" and the'
            " browser let it read the response: the server answered with its origin in"
            " Access-Control-Allow-Origin and Access-Control-Allow-Credentials: true. Any page on"
            " that origin can read the user's data and act as the user. Reported even when the"
            ' scenario expects it; a case that says why it is fine (accepted = "...") is'
            " reported suppressed, with that reason."
        },
        "help": {
            "text": "List only the origins you trust in flask-cors `origins` (or your own hook), never reflect the"
            " request's Origin with credentials, never trust `null`, and write any regex anchored and"
            " escaped (^https://app\\.example\\.com$). `cors-lab explain SCENARIO:CASE` shows what the"
            " server answered."
        },
        "defaultConfiguration": {"level": "error"},
        "properties": SECURITY_PROPERTIES,
    },
)
RULES: Tuple[Dict[str, Any], ...] = CELL_RULES + tuple(
    {
        "id": rule.id,
        "name": "".join(word.capitalize() for word in rule.id.split("/")[-1].split("-")),
        "shortDescription": {"text": rule.title},
        "fullDescription": {
            "text": f"The app's CORS configuration {rule.message.format(routes='N routes')}: a page"
            " on such an origin sends the user's cookies and reads the responses. Told once per"
            " app, with every route and browser that showed it (lab/findings.py)."
        },
        "help": {"text": rule.fix},
        "defaultConfiguration": {"level": "error"},
        "properties": SECURITY_PROPERTIES,
    }
    for rule in CONFIG_RULES
)
RULE_INDEX = {rule["id"]: index for index, rule in enumerate(RULES)}


def _is_security(scenario: Scenario) -> bool:
    return scenario.group == "security" or "security" in scenario.tags


def _attacker_pages(scenario: Scenario) -> FrozenSet[str]:
    """The pages of a security scenario that an attacker controls (sandboxed frames aside): every page but `app` and
    the pages of credentialed `control...` cases."""
    trusted = {"app"} | {
        c.page
        for c in scenario.cases
        if c.name.lower().startswith("control") and c.credentials == "include" and not c.sandboxed
    }
    return frozenset(c.page for c in scenario.cases if c.page not in trusted)


def untrusted_cases(scenarios: Sequence[Scenario]) -> FrozenSet[Tuple[str, str]]:
    """(scenario id, case name) of every case whose page is an attacker's: `attacker = true`, or, in a security
    scenario written without that key, a sandboxed frame or a page the scenario does not trust (module docstring)."""
    found: Set[Tuple[str, str]] = set()
    for scenario in scenarios:
        attackers = _attacker_pages(scenario) if _is_security(scenario) else frozenset()
        found |= {
            (scenario.id, c.name)
            for c in scenario.cases
            if c.attacker or (_is_security(scenario) and (c.sandboxed or c.page in attackers))
        }
    return frozenset(found)


def is_credentialed_read(row: Mapping[str, Any], untrusted: FrozenSet[Tuple[str, str]] = frozenset()) -> bool:
    """An attacker's page (the row's `attacker`, or a case in `untrusted`) read a response to a request sent with
    credentials "include", accepted or not."""
    return (
        row["outcome"] == "allowed"
        and (row.get("request") or {}).get("credentials") == "include"
        and (bool(row.get("attacker")) or (row["scenario"], row["case"]) in untrusted)
    )


def rule_of(row: Mapping[str, Any], untrusted: FrozenSet[Tuple[str, str]] = frozenset()) -> Optional[str]:
    """The one rule a cell breaks, or None: the security rule wins over the unexpected outcome it may also be. An
    unsupported cell breaks none (nothing was measured), though it is not as expected either."""
    if is_credentialed_read(row, untrusted):
        return CREDENTIALED_READ
    if not failed(row):
        return None
    return UNEXPECTED if row["outcome"] in ("allowed", "blocked") else LAB_ERROR


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


def fingerprint(row: Mapping[str, Any], rule: str) -> str:
    """A stable hash of scenario, case, browser, pin and rule (not of the line, which moves when the file is edited)."""
    return _hash(row["scenario"], row["case"], row["browser"], row.get("pin") or "", rule)


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
    if row.get("accepted"):
        why = f"accepted: {row['accepted']}"
    elif row.get("finding") or not row["matched"]:
        why = _message(row)
    else:
        why = "allowed, as the scenario expects: a known hole"
    return f"{cell}: {page} read a response sent with credentials ({why})"


def _located(result: Dict[str, Any], located: Optional[Location], root: Path) -> Dict[str, Any]:
    if located and located[0]:
        file, line = located
        result["locations"] = [
            {"physicalLocation": {"artifactLocation": _artifact(file, root), "region": {"startLine": max(1, line)}}}
        ]
    return result


def _result(row: Mapping[str, Any], rule: str, where: Mapping[Tuple[str, str], Location], root: Path) -> Dict[str, Any]:
    result: Dict[str, Any] = {
        "ruleId": rule,
        "ruleIndex": RULE_INDEX[rule],
        "level": "error",
        "message": {"text": _text(row, rule)},
        "partialFingerprints": {FINGERPRINT: fingerprint(row, rule)},
        "properties": {
            k: row.get(k)
            for k in ("scenario", "case", "browser", "pin", "outcome", "expected", "matched", "finding", "accepted")
        },
    }
    if rule == CREDENTIALED_READ and row.get("accepted"):
        # Kept in the log, suppressed in the source with the case's own reason: the hole stays visible.
        result["suppressions"] = [{"kind": "inSource", "justification": row["accepted"]}]
    return _located(result, where.get((row["scenario"], row["case"])), root)


def _config_result(finding: ConfigFinding, where: Mapping[Tuple[str, str], Location], root: Path) -> Dict[str, Any]:
    """A configuration finding, located at the first of its cases in the scenario file."""
    browsers = ", ".join(finding.browsers)
    result: Dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": RULE_INDEX[finding.rule_id],
        "level": "error",
        "message": {
            "text": f"{finding.scenario}: the configuration {finding.message}: {', '.join(finding.routes)}"
            f" (seen in {browsers})"
        },
        "partialFingerprints": {FINGERPRINT: _hash(finding.scenario, finding.rule_id)},
        "properties": {
            "scenario": finding.scenario,
            "routes": list(finding.routes),
            "browsers": list(finding.browsers),
            "cases": list(finding.cases),
        },
    }
    lines = sorted(
        (where[(finding.scenario, case)] for case in finding.cases if (finding.scenario, case) in where),
        key=lambda located: located[1],
    )
    return _located(result, lines[0] if lines else None, root)


def _tool_version() -> Optional[str]:
    try:
        from importlib.metadata import version

        return version("cors-lab")
    except Exception:  # a checkout that was never installed: the driver goes without a version
        return None


def sarif_log(
    rows: Sequence[Mapping[str, Any]],
    where: Mapping[Tuple[str, str], Location],
    untrusted: FrozenSet[Tuple[str, str]] = frozenset(),
    root: Optional[Path] = None,
) -> Dict[str, Any]:
    """One SARIF 2.1.0 run: the rules, a result per cell that breaks one (see `rule_of`) and one per configuration
    finding (lab/findings.py), located at the scenario file (relative to `root`, default the working directory: the
    %SRCROOT% code scanning resolves against the checkout) and the case's line. `untrusted`: attacker cases of
    scenarios written without `attacker = true` (`untrusted_cases`)."""
    root = root if root is not None else Path.cwd()
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
    results += [_config_result(finding, where, root) for finding in config_findings(rows)]
    run: Dict[str, Any] = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {SRCROOT: {"uri": root.resolve().as_uri() + "/"}},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    skipped = [row for row in rows if unsupported(row)]
    if skipped:  # no result, but not a pass either: say how many cells were not measured, and why
        reasons = list(dict.fromkeys(str(row.get("reason") or "unsupported") for row in skipped))
        run["properties"] = {"notMeasured": {"cells": len(skipped), "reasons": reasons}}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
