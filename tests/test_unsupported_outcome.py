"""The `unsupported` outcome: a cell the lab did not run, because its browser engine cannot be told what the case
needs. Like pytest's "skipped", it is never a pass and never a failure: every reader of rows counts it apart, with
its reason, and no exit status changes because of it."""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List

import pytest

from lab.commands import report as report_command
from lab.explain import story
from lab.plugin.items import SESSIONS, CaseItem, CellMismatch
from lab.report.ci import github_annotations, junit_xml
from lab.report.diff import compare
from lab.report.markdown import results_table, summary_table
from lab.report.sarif import sarif_log
from lab.results import UNSUPPORTED, ResultRow, failed, passed, unsupported
from lab.scenario.model import EXPECTABLE, OUTCOMES
from lab.terminal import mismatches, summary, totals

REASON = "address spaces (Local Network Access) cannot be set in WebKitGTK"
SCENARIO = "network/local-access"


def cell(case: str, browser: str = "chromium", outcome: str = "allowed", expected: str = "allowed", **more: Any):
    """A ResultRow as the lab writes it: matched when the outcome is the expected one (never for unsupported)."""
    return ResultRow(
        SCENARIO,
        "network",
        case,
        browser,
        browser,
        outcome,
        expected,
        outcome == expected and outcome != UNSUPPORTED,
        **more,
    )


def skipped(case: str, browser: str = "webkit", reason: str = REASON) -> ResultRow:
    return cell(case, browser, UNSUPPORTED, "blocked", reason=reason)


def rows_of(*made: ResultRow) -> List[Dict[str, Any]]:
    return [row.to_dict() for row in made]


def document(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    browsers = sorted({r["browser"] for r in rows})
    return {
        "schema": 1,
        "complete": True,
        "environment": {"python": "3.11", "playwright": "1.50", "flask": "3.1", "flask-cors": "6.0"},
        "browsers": [{"name": b, "product": b, "version": "1", "driver": "test"} for b in browsers],
        "pins": [],
        "results": rows,
    }


MEASURED_AND_SKIPPED = rows_of(
    cell("public page reads loopback", "chromium", "blocked", "blocked"),
    cell("same space", "chromium", "allowed", "allowed"),
    skipped("public page reads loopback"),
    skipped("same space"),
)
ONE_FAILED = MEASURED_AND_SKIPPED + rows_of(cell("granted", "chromium", "blocked", "allowed"))


def test_the_outcome_is_known_but_no_scenario_may_expect_it() -> None:
    assert UNSUPPORTED in OUTCOMES
    assert UNSUPPORTED not in EXPECTABLE


def test_the_helpers_read_result_rows_and_dicts_alike() -> None:
    row, good, bad = skipped("a"), cell("b"), cell("c", outcome="blocked")
    for form in (lambda r: r, ResultRow.to_dict):
        assert unsupported(form(row)) and not failed(form(row))
        assert not unsupported(form(good)) and not failed(form(good))
        assert not unsupported(form(bad)) and failed(form(bad))
    finding = cell("d", finding="read with credentials")
    finding.matched = False
    assert failed(finding) and failed(finding.to_dict())


def test_the_run_verdict_needs_a_measured_row_and_no_failure() -> None:
    assert passed(MEASURED_AND_SKIPPED)
    assert not passed(ONE_FAILED)
    assert not passed(rows_of(skipped("a"), skipped("b")))  # measured nothing: no pass, like an empty run
    assert not passed([])


def _report_check(tmp_path: Path, rows: List[Dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> tuple:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document(rows)), encoding="utf-8")
    parser = argparse.ArgumentParser()
    report_command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["report", str(path), "--check"])
    status = report_command.execute(args)
    return status, capsys.readouterr().out


def test_report_check_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _report_check(tmp_path, MEASURED_AND_SKIPPED, capsys)
    assert status == 0, out
    assert "2 as expected, 0 unexpected" in out
    assert f"2 cells not measurable here (unsupported): {REASON}" in out
    assert out.count(REASON) == 1  # a reason is told once

    status, out = _report_check(tmp_path, ONE_FAILED, capsys)
    assert status == 1, out
    assert "1 unexpected" in out and "granted" in out

    status, out = _report_check(tmp_path, rows_of(skipped("a"), skipped("b")), capsys)
    assert status == 1, out


def test_junit_skips_an_unsupported_cell_with_its_reason() -> None:
    root = ElementTree.fromstring(junit_xml(ONE_FAILED, {}, 1.0))
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("5", "1", "0", "2")
    suite = root.find("testsuite")
    assert suite is not None and suite.get("skipped") == "2" and suite.get("failures") == "1"
    by_name = {case.get("name"): case for case in root.iter("testcase")}
    for name in ("public page reads loopback [webkit]", "same space [webkit]"):
        case = by_name[name]
        assert [child.tag for child in case] == ["skipped"]
        assert case[0].get("message") == REASON
    assert [child.tag for child in by_name["granted [chromium]"]] == ["failure"]
    assert list(by_name["same space [chromium]"]) == []


def test_github_annotations_never_mark_an_unsupported_cell_as_an_error(tmp_path: Path) -> None:
    lines = github_annotations(ONE_FAILED, {}, tmp_path)
    errors = [line for line in lines if line.startswith("::error")]
    assert len(errors) == 1 and "granted" in errors[0]
    notices = [line for line in lines if line.startswith("::notice")]
    assert len(notices) == 2 and all(REASON in line for line in notices)


def test_sarif_has_no_result_for_an_unsupported_cell_but_says_it_was_not_measured(tmp_path: Path) -> None:
    run = sarif_log(ONE_FAILED, {}, root=tmp_path)["runs"][0]
    cells = [(r["properties"]["case"], r["properties"]["browser"]) for r in run["results"]]
    assert cells == [("granted", "chromium")]
    assert run["properties"]["notMeasured"] == {"cells": 2, "reasons": [REASON]}
    clean = sarif_log(rows_of(cell("same space")), {}, root=tmp_path)["runs"][0]
    assert clean["results"] == [] and "properties" not in clean


def test_markdown_shows_not_measurable_cells_with_their_reason() -> None:
    table = results_table(document(ONE_FAILED), "cors-lab report results.json")
    lines = table.splitlines()
    same_space = next(line for line in lines if "| same space |" in line)
    assert same_space.split("|")[3:5] == [" allowed ", " n/a "]  # chromium, webkit
    assert "**expected" not in same_space
    granted = next(line for line in lines if "| granted |" in line)
    assert "**expected allowed**" in granted
    notes = [line for line in lines if line.startswith("n/a: not measurable here")]
    assert notes == [f"n/a: not measurable here (unsupported, neither a pass nor a failure): webkit: {REASON}"]

    short = summary_table(document(MEASURED_AND_SKIPPED), "cors-lab report --summary")
    assert "2 n/a (not measurable)" in short and "unexpected" not in short


def test_the_terminal_counts_unsupported_cells_apart() -> None:
    line = totals(MEASURED_AND_SKIPPED, 1.0)
    first, *rest = line.splitlines()
    assert "(1 allowed, 1 blocked, 2 unsupported)" in first
    assert "2 as expected, 0 unexpected" in first
    assert rest == [f"2 cells not measurable here (unsupported): {REASON}"]
    assert mismatches(MEASURED_AND_SKIPPED) == []
    assert any("granted" in text for text in mismatches(ONE_FAILED))
    table = summary(MEASURED_AND_SKIPPED, ["chromium", "webkit"], color=False)
    row = next(text for text in table.splitlines() if text.strip().startswith("same space"))
    assert row.split()[-2:] == ["allowed", "n/a"] and "want" not in table

    other = rows_of(skipped("x", reason="another engine limit"))
    assert totals(MEASURED_AND_SKIPPED + other, 1.0).splitlines()[1] == (
        f"3 cells not measurable here (unsupported): {REASON}; another engine limit"
    )


def test_diff_lists_an_unsupported_cell_as_not_comparable_and_does_not_fail() -> None:
    old = document(rows_of(skipped("same space"), cell("other", "webkit")))
    new = document(rows_of(skipped("same space"), cell("other", "webkit")))
    comparison = compare(old, new)
    assert comparison.changes == [] and not comparison.failed
    assert [key[1] for key, _ in comparison.not_comparable] == ["same space"]
    assert comparison.compared == 1
    text = "\n".join(comparison.report())
    assert "NOT COMPARABLE network/local-access :: same space [webkit]" in text and REASON in text
    assert "CHANGED" not in text

    changed = document(rows_of(skipped("same space"), cell("other", "webkit", "blocked", "allowed")))
    still = compare(old, changed)
    assert still.failed and [c.key[1] for c in still.changes] == ["other"]


def test_diff_fails_when_a_measured_cell_is_no_longer_measured_or_nothing_compares() -> None:
    """Measured in OLD and unsupported in NEW is a measurement lost: an upgrade check must not pass over it."""
    old = document(rows_of(cell("same space", "webkit"), cell("other", "webkit")))
    lost = compare(old, document(rows_of(skipped("same space"), cell("other", "webkit"))))
    assert lost.failed and not lost.changes and not lost.not_comparable
    assert [key[1] for key, _ in lost.unmeasured] == ["same space"] and REASON in lost.unmeasured[0][1]
    nothing = compare(document(rows_of(skipped("same space"))), document(rows_of(skipped("same space"))))
    assert nothing.compared == 0 and nothing.not_comparable and nothing.failed


def test_explain_tells_why_a_cell_was_not_measured_and_gives_no_verdict() -> None:
    lines = story(rows_of(cell("same space"), skipped("same space")))
    webkit = [line for line in lines if line.strip().startswith("webkit")]
    assert len(webkit) == 1 and "NOT MEASURED" in webkit[0] and REASON in webkit[0]
    assert "as expected" not in webkit[0] and "expected blocked" not in webkit[0]
    assert any(line.strip().startswith("chromium: ALLOWED (as expected)") for line in lines)


def _item(row: ResultRow) -> SimpleNamespace:
    """What CaseItem.runtest reads of itself, with a Sessions that hands back `row` instead of running a browser."""
    sessions = SimpleNamespace(measure=lambda *args: row, launched={}, launches={})
    return SimpleNamespace(
        config=SimpleNamespace(stash={SESSIONS: sessions}),
        scenario=None,
        case=None,
        browser=row.browser,
        pin="",
        user_properties=[],
        row=None,
    )


def test_the_pytest_item_of_an_unsupported_cell_is_skipped_with_the_reason() -> None:
    with pytest.raises(pytest.skip.Exception, match="Local Network Access"):
        CaseItem.runtest(_item(skipped("same space")))  # type: ignore[arg-type]
    with pytest.raises(CellMismatch):
        CaseItem.runtest(_item(cell("granted", outcome="blocked")))  # type: ignore[arg-type]
    CaseItem.runtest(_item(cell("same space")))  # type: ignore[arg-type]
