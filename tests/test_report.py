"""Markdown reports: built from results files, escaping whatever servers and browsers said."""

from __future__ import annotations

import json
from pathlib import Path

from lab.cli import main
from lab.report.markdown import BEGIN, END, results_table, summary_table

HOSTILE = "<script>alert(1)</script> | \x1b[31mred"


def _document() -> dict:
    row = {"scenario": "g/s", "group": "g", "case": HOSTILE, "browser": "chromium", "outcome": "blocked",
           "expected": "allowed", "matched": False, "preflight": True}
    return {"environment": {"python": "3", "flask": "3.1", "flask-cors": "6", "werkzeug": "3", "playwright": "1.64"},
            "browsers": [{"name": "chromium", "product": "Chromium", "version": "<b>156</b>"}], "results": [row]}


def test_tables_escape_html_pipes_and_control_characters() -> None:
    for table in (results_table(_document(), "cmd"), summary_table(_document(), "cmd")):
        assert "<script>" not in table and "<b>" not in table and "\x1b" not in table
    table = results_table(_document(), "cmd")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; \\| " in table
    assert "| blocked (preflight) **expected allowed** |" in table
    assert "1 blocked **1 unexpected**" in summary_table(_document(), "cmd")


def test_report_updates_only_the_marked_block(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps(_document()))
    page = tmp_path / "page.md"
    page.write_text(f"intro\n{BEGIN}\nold\n{END}\noutro\n")
    assert main(["report", str(results), "--update", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text and "g/s" not in text.split(BEGIN)[0]


def test_report_rejects_a_file_that_is_not_results(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{\"not\": 1}")
    assert main(["report", str(bad)]) == 2
    bad.write_text("{nope")
    assert main(["report", str(bad)]) == 2


def test_claim_verdicts_come_from_every_cell_of_the_deciding_case() -> None:
    from lab.report.claims import claims_table, verdicts

    def row(case: str, browser: str, outcome: str, pin: str = "p1") -> dict:
        return {"scenario": "s", "case": case, "browser": browser, "pin": pin, "outcome": outcome, "matched": True}

    document = _document()
    document["results"] = [row("a", "chromium", "blocked"), row("a", "firefox", "blocked"),
                           row("b", "chromium", "allowed"), row("b", "firefox", "blocked"),
                           row("c", "chromium", "allowed", "p1"), row("c", "chromium", "allowed", "p2"),
                           row("d", "chromium", "error")]
    claim = {"scenario": "s", "text": "t", "source": "src"}
    document["claims"] = [{**claim, "case": "a", "holds_if": "blocked"}, {**claim, "case": "b", "holds_if": "allowed"},
                          {**claim, "case": "c", "holds_if": "blocked"}, {**claim, "case": "d", "holds_if": "allowed"}]
    judged = verdicts(document)
    assert [j["verdict"] for j in judged] == ["confirmed", "depends", "refuted", "untested"]
    assert judged[1]["evidence"] == "allowed in chromium (p1); blocked in firefox (p1)"
    table = claims_table(document, "cmd")
    assert "| **depends** |" in table and "1 confirmed, 1 depends, 1 refuted, 1 untested" in table


def test_list_filters_by_group_and_tag(capsys) -> None:
    root = Path(__file__).parent.parent / "scenarios"
    assert main(["list", str(root), "--group", "flask-cors"]) == 0
    files = sorted((root / "flask-cors").glob("*.toml"))
    listed = capsys.readouterr().out.strip().splitlines()
    assert listed[-1].startswith(f"{len(files)} scenarios, ") and listed[-1].endswith("in 1 group")
    assert all(any(f"flask-cors/{f.stem}:" in line for line in listed) for f in files)
    assert main(["list", str(root), "--tag", "refuted", "--group", "seeds"]) == 0
    out = capsys.readouterr().out
    assert "seeds/wildcard-credentials-trap" in out and "seeds/react-dev-allowlist" not in out


def test_claims_can_require_a_preflight_count_and_a_readable_header() -> None:
    from lab.report.claims import verdicts

    document = _document()
    document["results"] = [
        {"scenario": "s", "case": "a", "browser": b, "pin": "", "outcome": "allowed", "matched": True,
         "preflights": n, "read_headers": {"X-Total": value}}
        for b, n, value in (("chromium", 1, "3"), ("firefox", 2, None))]
    base = {"scenario": "s", "text": "t", "source": "", "case": "a", "holds_if": "allowed"}
    document["claims"] = [{**base, "holds_if_preflights": 1}, {**base, "holds_if_readable": "x-total"},
                          {**base, "holds_if_preflights": 3}]
    assert [j["verdict"] for j in verdicts(document)] == ["depends", "depends", "refuted"]
    assert "but not with allowed + 3 preflight(s): preflights [1, 2]" in verdicts(document)[2]["evidence"]


def test_progress_is_a_line_every_few_seconds_when_the_output_is_not_a_terminal() -> None:
    import io

    from lab.results import ResultRow, ResultsFile
    from lab.terminal import Progress

    stream = io.StringIO()  # as under nox or in a CI log: not a terminal
    progress = Progress(ResultsFile(None), total=4, stream=stream, every_s=0.0)
    for number in range(4):
        progress.row(ResultRow("s", "g", f"c{number}", "chromium", "chromium", "allowed", "allowed" if number else "blocked",
                               bool(number)))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 and lines[0].startswith("[1/4]") and "s left" in lines[0] and lines[0].endswith("1 unexpected")
    assert lines[-1].startswith("[4/4]") and "left" not in lines[-1]
    quiet = io.StringIO()
    slow = Progress(ResultsFile(None), total=4, stream=quiet, every_s=3600.0)
    for number in range(3):
        slow.row(ResultRow("s", "g", f"c{number}", "chromium", "chromium", "allowed", "allowed", True))
    assert quiet.getvalue() == ""  # nothing until the interval passes or the run ends


def test_advice_only_for_unexpected_cells_and_never_to_open_a_refused_attacker() -> None:
    from lab.explain import story

    exchange = {"kind": "request", "method": "GET", "path": "/x", "request_headers": {"Origin": "https://evil.example"},
                "status": 200, "response_headers": [["Access-Control-Allow-Origin", "https://evil.example"]]}
    base = {"scenario": "s", "case": "c", "browser": "chromium", "exchanges": [exchange],
            "request": {"page_origin": "https://evil.example", "url": "https://api.example/x", "method": "GET"},
            "model": {"prediction": "blocked", "rule": "r", "fix": "add https://evil.example to flask-cors `origins`"}}
    refused_as_expected = story([{**base, "outcome": "blocked", "expected": "blocked", "matched": True}])
    assert not any("to allow it" in line or "to close it" in line for line in refused_as_expected)
    should_read = story([{**base, "outcome": "blocked", "expected": "allowed", "matched": False}])
    assert any(line.strip().startswith("to allow it:") and "add https://evil.example" in line for line in should_read)
    attacker_reads = story([{**base, "outcome": "allowed", "expected": "blocked", "matched": False}])
    closing = [line for line in attacker_reads if "to close it:" in line]
    assert closing and "Access-Control-Allow-Origin: https://evil.example" in closing[0] and "add" not in closing[0]
