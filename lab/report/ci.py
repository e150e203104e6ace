"""CI formats from result rows: JUnit XML, and GitHub Actions annotations on the scenario file's lines.

Readers of the rows, like the other reports: nothing here runs anything. Locations
(the scenario file and the line of each case) come from the loaded scenarios.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from ..results import failed, unsupported

Location = Tuple[str, int]  # file, line


def locations(scenarios: Sequence[Any]) -> Dict[Tuple[str, str], Location]:
    """(scenario id, case name) -> (file, line of the case)."""
    return {(s.id, c.name): (str(s.path), c.line) for s in scenarios for c in s.cases}


def _cell_name(row: Mapping[str, Any]) -> str:
    return f"{row['case']} [{row['browser']}]" + (f" ({row['pin']})" if row.get("pin") else "")


def _message(row: Mapping[str, Any]) -> str:
    """Why the cell fails: a finding says so first (its cell may be as the case expects), else outcome and reason."""
    if row.get("finding"):
        page = (row.get("request") or {}).get("page_origin") or "an attacker's page"
        expected = (
            f"allowed, expected {row['expected']}"
            if row["expected"] != "allowed"
            else 'the case expects it: close the hole, or say why it is fine with accepted = "..." in the case'
        )
        return f"FINDING: {row['finding']} (page {page}; {expected})"
    detail = row.get("reason") or row.get("browser_reason") or row.get("error") or ""
    return f"{row['outcome']}, expected {row['expected']}" + (f": {detail}" if detail else "")


def _counts(rows: Sequence[Mapping[str, Any]]) -> Dict[str, str]:
    """JUnit's failures (an unexpected allowed/blocked), errors (an unexpected error/timeout) and skipped cells."""
    return {
        "failures": str(sum(1 for r in rows if failed(r) and r["outcome"] in ("allowed", "blocked"))),
        "errors": str(sum(1 for r in rows if failed(r) and r["outcome"] not in ("allowed", "blocked"))),
        "skipped": str(sum(1 for r in rows if unsupported(r))),
    }


def junit_xml(rows: Sequence[Mapping[str, Any]], where: Mapping[Tuple[str, str], Location], seconds: float) -> str:
    """One testcase per cell; a failure for an unexpected allowed/blocked, an error for an unexpected error/timeout,
    and `<skipped>` with the reason for an unsupported cell (one this browser cannot run: neither pass nor fail)."""
    suites: Dict[str, List[Mapping[str, Any]]] = {}
    for row in rows:
        suites.setdefault(row["scenario"], []).append(row)
    root = ElementTree.Element(
        "testsuites",
        name="cors-lab",
        tests=str(len(rows)),
        time=f"{seconds:.3f}",
        **_counts(rows),
    )
    for scenario, members in suites.items():
        suite = ElementTree.SubElement(
            root,
            "testsuite",
            name=scenario,
            tests=str(len(members)),
            **_counts(members),
        )
        for row in members:
            file, line = where.get((row["scenario"], row["case"]), ("", 0))
            case = ElementTree.SubElement(
                suite,
                "testcase",
                classname=scenario,
                name=_cell_name(row),
                time=f"{row.get('duration_ms', 0) / 1000:.3f}",
                file=file,
                line=str(line),
            )
            if unsupported(row):
                reason = str(row.get("reason") or "not measurable in this browser")
                ElementTree.SubElement(case, "skipped", message=reason).text = reason
            elif failed(row):
                kind = "failure" if row["outcome"] in ("allowed", "blocked") else "error"
                ElementTree.SubElement(
                    case, kind, message=_message(row), type="finding" if row.get("finding") else row["outcome"]
                ).text = _message(row)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _escape(text: str, property_value: bool = False) -> str:
    """GitHub's workflow-command escaping (data: % CR LF; properties also : and ,)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def github_annotations(
    rows: Sequence[Mapping[str, Any]], where: Mapping[Tuple[str, str], Location], root: Path
) -> List[str]:
    """`::error file=...,line=...::` for every unexpected cell (findings included), on the line of its case; a
    `::notice` for an accepted credentialed read by an attacker page, so that the accepted hole stays in sight, and
    for an unsupported cell (not measured in that browser: no error, but its reason stays in sight)."""
    lines = []
    for row in rows:
        command = "error" if failed(row) else "notice" if row.get("accepted") or unsupported(row) else None
        if command is None:
            continue
        file, line = where.get((row["scenario"], row["case"]), ("", 0))
        try:
            file = str(Path(file).resolve().relative_to(root.resolve()))
        except ValueError:
            pass
        title = f"cors-lab {row['browser']}"
        if command == "error":
            text = _message(row)
        elif unsupported(row):
            text = f"not measured in this browser: {row.get('reason') or 'unsupported'}"
        else:
            text = f"accepted credentialed read by an attacker page: {row['accepted']}"
        lines.append(
            f"::{command} file={_escape(file, True)},line={line},title={_escape(title, True)}::"
            + _escape(f"{row['scenario']} :: {_cell_name(row)}: {text}")
        )
    return lines
