"""Never a false all-clear: attacker cases, accepted holes, unmeasured expectations, and the findings every output
shows (terminal, explain, JUnit, annotations, SARIF, diff, pytest), from the loader to a real run in real browsers."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, Optional

import pytest

from lab.cell import FINDING, NO_EXPECTATION, cell_row
from lab.cli import main
from lab.findings import (
    HTTP_ORIGIN,
    LOOK_ALIKE,
    NULL_ORIGIN,
    REFLECTS_ANY,
    ConfigFinding,
    all_attacker_cells_measured,
    config_findings,
    unmeasured,
)
from lab.scenario import load_file
from lab.scenario.model import Scenario
from tests.conftest import ROOT, run_rows

HOLE = """title = "flask-cors reflects any Origin with credentials"

[origins]
attacker = "http://attacker.localhost"

[backend]
cors = { supports_credentials = true }

[[backend.routes]]
path = "/api/me"
body = '{"email": "victim@example.test"}'

[[cases]]
name = "GET /api/me from app with credentials"
path = "/api/me"
credentials = "include"
expect = "allowed"

[[cases]]
name = "GET /api/me from attacker"
page = "attacker"
attacker = true
path = "/api/me"
expect = "allowed"

[[cases]]
name = "GET /api/me from attacker with credentials"
page = "attacker"
attacker = true
path = "/api/me"
credentials = "include"
expect = "allowed"
"""
LAST = 'credentials = "include"\nexpect = "allowed"\n'  # how the last case, the credentialed read, ends
ACCEPTED = HOLE + 'accepted = "a public profile: the data is not secret"\n'
READ = "GET /api/me from attacker with credentials"
assert HOLE.endswith(LAST)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def lab(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


# -- the loader --------------------------------------------------------------------------------------------------------


def test_attacker_accepted_and_a_bare_error_expectation_load(tmp_path: Path) -> None:
    text = ACCEPTED.replace(
        'name = "GET /api/me from attacker"\npage = "attacker"\nattacker = true\npath = "/api/me"\nexpect = "allowed"',
        'name = "GET /api/me from attacker"\npage = "attacker"\nattacker = true\npath = "/api/me"\nexpect = "error"\n'
        'expect_per_browser = { firefox = "error", webkit = "blocked" }',
    )
    scenario, problems = load_file(write(tmp_path, "hole.toml", text))
    assert problems == [] and scenario is not None
    app, bare, read = scenario.cases
    assert (app.attacker, app.accepted) == (False, None)
    assert (bare.attacker, bare.accepted, bare.expect) == (True, None, "error")
    assert bare.expected_in("firefox") == "error" and bare.expected_in("webkit") == "blocked"
    assert (read.attacker, read.accepted) == (True, "a public profile: the data is not secret")


@pytest.mark.parametrize(
    "change, line, message",
    [
        # accepted without attacker = true: an error on the key, with its line
        (
            (
                'page = "attacker"\nattacker = true\npath = "/api/me"\ncredentials',
                'page = "attacker"\npath = "/api/me"\ncredentials',
            ),
            32,
            "`cases[3].accepted` needs `attacker = true` in the same case",
        ),
        (
            ('accepted = "a public profile: the data is not secret"', 'accepted = "  "'),
            33,
            "`cases[3].accepted` is empty",
        ),
        (
            ('accepted = "a public profile: the data is not secret"', "accepted = true"),
            33,
            "`cases[3].accepted` must be a string, not a boolean",
        ),
        (
            ('attacker = true\npath = "/api/me"\nexpect', 'attacker = "yes"\npath = "/api/me"\nexpect'),
            22,
            "`cases[2].attacker` must be a boolean (true or false), not a string",
        ),
        (
            ('expect = "allowed"\naccepted', 'expect = "errors"\naccepted'),
            32,
            "`cases[3].expect` is 'errors'; expected one of: allowed, blocked, or \"error\"",
        ),
        (
            ('expect = "allowed"\naccepted', 'expect = "error: boom"\naccepted'),
            32,
            "`cases[3].expect` is 'error: boom'",
        ),
    ],
)
def test_bad_attacker_accepted_and_expect_name_the_key_and_line(
    tmp_path: Path, change: tuple, line: int, message: str
) -> None:
    old, new = change
    assert old in ACCEPTED
    scenario, problems = load_file(write(tmp_path, "bad.toml", ACCEPTED.replace(old, new, 1)))
    assert scenario is None
    found = [(p.line, p.message) for p in problems]
    assert any(number == line and message in text for number, text in found), found


def test_per_browser_expectations_take_a_bare_error_but_nothing_else_new(tmp_path: Path) -> None:
    scenario, problems = load_file(
        write(
            tmp_path,
            "bad.toml",
            HOLE.replace(
                'path = "/api/me"\nexpect = "allowed"\n',
                'path = "/api/me"\nexpect = "allowed"\nexpect_per_browser = { firefox = "timeout" }\n',
                1,
            ),
        )
    )
    assert scenario is None and any(
        "expectation 'timeout' must be one of: allowed, blocked, or \"error\"" in p.message for p in problems
    ), problems


def test_accepted_without_attacker_is_bad_input_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write(tmp_path, "bad.toml", ACCEPTED.replace("attacker = true\n", ""))
    assert main(["list", str(path)]) == 2
    assert f"{path}:" in capsys.readouterr().err


# -- the cell ----------------------------------------------------------------------------------------------------------


def _scenario(tmp_path: Path, text: str = HOLE) -> Scenario:
    scenario, problems = load_file(write(tmp_path, "s.toml", text))
    assert scenario is not None, problems
    return scenario


def _cell(
    scenario: Scenario, case_name: str, outcome: str, reason: Optional[str] = None, engine: str = "chromium"
) -> Any:
    """A cell as the session judges it: `outcome` measured for the case (no exchanges needed for the verdict)."""
    case = next(c for c in scenario.cases if c.name == case_name)
    urls = {"app": "http://app.localhost:1", "attacker": "http://attacker.localhost:2", "api": "http://api.localhost:3"}
    spec = {"url": f"http://api.localhost:3{case.path}?cors_lab=1-ab", "headers": {}}
    result = {"outcome": outcome, "status": 200 if outcome == "allowed" else None}
    return cell_row(
        scenario,
        SimpleNamespace(label="", versions={}),
        urls,
        engine,
        engine,
        case,
        spec,
        result,
        [],
        outcome,
        reason,
        reason if outcome in ("error", "timeout") else None,
        [],
        1.0,
    )


def test_a_credentialed_read_by_an_attacker_page_is_a_finding_unless_accepted(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path)
    read = _cell(scenario, READ, "allowed")
    assert (read.attacker, read.finding, read.accepted, read.matched) == (True, FINDING, None, False)
    assert read.request["page"] == "attacker" and read.to_dict()["finding"] == FINDING
    refused = _cell(scenario, READ, "blocked")
    assert (refused.finding, refused.matched, refused.expected) == (None, False, "allowed")
    no_credentials = _cell(scenario, "GET /api/me from attacker", "allowed")
    assert (no_credentials.attacker, no_credentials.finding, no_credentials.matched) == (True, None, True)
    app = _cell(scenario, "GET /api/me from app with credentials", "allowed")
    assert (app.attacker, app.finding, app.matched, app.request["page"]) == (False, None, True, "app")
    accepted = _cell(_scenario(tmp_path, ACCEPTED), READ, "allowed")
    assert (accepted.finding, accepted.accepted, accepted.matched) == (
        None,
        "a public profile: the data is not secret",
        True,
    )
    accepted_but_refused = _cell(_scenario(tmp_path, ACCEPTED), READ, "blocked")
    assert (accepted_but_refused.accepted, accepted_but_refused.matched) == (None, False)


def test_a_bare_error_expectation_never_matches_and_error_never_passes(tmp_path: Path) -> None:
    scenario = _scenario(
        tmp_path,
        HOLE[: -len(LAST)]
        + 'credentials = "include"\nexpect = "error"\nexpect_per_browser = { firefox = "blocked" }\n',
    )
    for outcome in ("allowed", "blocked", "error", "timeout"):
        row = _cell(scenario, READ, outcome, reason="the backend failed" if outcome in ("error", "timeout") else None)
        assert not row.matched and row.expected == "error", outcome
        assert row.reason.startswith(NO_EXPECTATION) and "re-scan or edit it" in row.reason
    assert "; the backend failed" in _cell(scenario, READ, "error", reason="the backend failed").reason
    assert _cell(scenario, READ, "blocked", engine="firefox").matched  # the browser's own expectation is measured
    plain = _scenario(tmp_path)
    for case, expected in (
        ("GET /api/me from attacker", "allowed"),
        ("GET /api/me from app with credentials", "allowed"),
    ):
        for outcome in ("error", "timeout"):
            row = _cell(plain, case, outcome, reason="no answer")
            assert not row.matched and row.expected == expected and row.reason == "no answer"


def test_an_expected_app_failure_still_matches_its_own_text(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, HOLE + 'expect_by_version = { "flask>=0" = "error: nothing to repeat" }\n')
    versions = {"flask": "3.1.0", "flask-cors": "6.0.0"}
    case = scenario.cases[-1]
    urls = {"app": "http://app.localhost:1", "attacker": "http://attacker.localhost:2", "api": "http://api.localhost:3"}
    spec = {"url": "http://api.localhost:3/api/me", "headers": {}}

    def judged(reason: str) -> Any:
        return cell_row(
            scenario,
            SimpleNamespace(label="", versions=versions),
            urls,
            "chromium",
            "chromium",
            case,
            spec,
            {"outcome": "error"},
            [],
            "error",
            reason,
            None,
            [],
            1.0,
        )

    assert judged("the app raised: error: nothing to repeat at position 0").matched
    assert not judged("the app raised: something else").matched


# -- configuration findings --------------------------------------------------------------------------------------------


def fake_row(
    case: str,
    page: str,
    outcome: str = "allowed",
    browser: str = "chromium",
    *,
    method: str = "GET",
    path: str = "/api/me",
    credentials: str = "include",
    sandboxed: bool = False,
    attacker: bool = True,
    accepted: Optional[str] = None,
    status: int = 200,
    scenario: str = "scan/app",
) -> Dict[str, Any]:
    read = attacker and outcome == "allowed" and credentials == "include"
    return {
        "scenario": scenario,
        "case": case,
        "browser": browser,
        "pin": "",
        "outcome": outcome,
        "expected": "allowed",
        "matched": not (read and not accepted),
        "status": status,
        "attacker": attacker,
        "finding": FINDING if read and not accepted else None,
        "accepted": accepted if read else None,
        "reason": None,
        "exchanges": [],
        "console": [],
        "error": None,
        "request": {
            "page": page,
            "page_origin": f"https://{page}.example",
            "method": method,
            "sandboxed": sandboxed,
            "url": f"https://api.example{path}?cors_lab=7-abc",
            "credentials": credentials,
        },
    }


def test_config_findings_are_told_once_per_app_and_rule_with_routes_and_browsers() -> None:
    rows = [
        fake_row("a1", "attacker", browser="chromium"),
        fake_row("a1", "attacker", browser="firefox"),
        fake_row("a2", "attacker", method="DELETE", status=401),  # a refused status the attacker still read
        fake_row("n1", "attacker", sandboxed=True, path="/api/items/1"),
        fake_row("s1", "app_suffix", path="/api/items/1"),
        fake_row("s2", "app_prefix", path="/api/me"),  # /api/me: reflected
        fake_row("h1", "app_http", path="/api/me", browser="webkit"),
        fake_row("ok", "app", attacker=False),  # the trusted page: never a finding
        fake_row("omit", "attacker", credentials="omit", path="/api/public"),  # without credentials: nothing to steal
        fake_row("refused", "app_http", outcome="blocked", path="/api/other"),
        fake_row("error", "attacker", outcome="error", path="/api/broken"),
        fake_row("fine", "dev_suffix", accepted="a staging mirror we own", path="/api/accepted"),
    ]
    found = {f.rule_id: f for f in config_findings(rows)}
    assert list(found) == [REFLECTS_ANY, NULL_ORIGIN, LOOK_ALIKE]  # http:// only on a route that reflects anything
    reflects = found[REFLECTS_ANY]
    assert reflects == ConfigFinding(
        REFLECTS_ANY,
        reflects.title,
        "reflects any Origin with Access-Control-Allow-Credentials: true on 2 routes",
        ("DELETE /api/me", "GET /api/me"),
        ("chromium", "firefox"),
        "scan/app",
        ("a1", "a2"),
    )
    assert found[NULL_ORIGIN].message == "accepts the `null` origin with credentials on 1 route"
    assert found[NULL_ORIGIN].routes == ("GET /api/items/1",)
    assert found[LOOK_ALIKE].message == "allows look-alike origins (suffix/prefix) with credentials on 1 route"
    assert found[LOOK_ALIKE].routes == ("GET /api/items/1",) and found[LOOK_ALIKE].cases == ("s1",)
    http_only = config_findings([fake_row("h1", "app_http", browser="webkit")])
    assert [(f.rule_id, f.message, f.browsers) for f in http_only] == [
        (HTTP_ORIGIN, "accepts http:// for an https origin with credentials on 1 route", ("webkit",))
    ]
    assert config_findings([fake_row("fine", "dev_suffix", accepted="ours")]) == []
    two_apps = config_findings([fake_row("a", "attacker", scenario="one"), fake_row("a", "attacker", scenario="two")])
    assert [(f.scenario, f.rule_id) for f in two_apps] == [("one", REFLECTS_ANY), ("two", REFLECTS_ANY)]


def test_unmeasured_cases_and_the_attacker_all_clear() -> None:
    rows = [
        fake_row("both", "attacker", "error"),
        fake_row("both", "attacker", "timeout", browser="firefox"),
        fake_row("half", "attacker", "error"),
        fake_row("half", "attacker", "blocked", browser="firefox"),
        fake_row("fine", "app", "allowed", attacker=False),
    ]
    assert unmeasured(rows) == ["both"]
    assert not all_attacker_cells_measured(rows)
    measured = [
        fake_row("a", "attacker", "blocked"),
        fake_row("b", "app_http", "allowed"),
        fake_row("c", "app", "error", attacker=False),
    ]
    assert all_attacker_cells_measured(measured)  # the app's own error is no attacker cell
    assert not all_attacker_cells_measured(
        [fake_row("c", "app", "blocked", attacker=False)]
    )  # no attacker cell: no all-clear
    lost = {
        "scenario": "scan/app",
        "case": "x",
        "browser": "chromium",
        "outcome": "error",
        "matched": False,
        "request": {},
    }
    assert not all_attacker_cells_measured(measured + [lost])  # an error row that never reached a page may be one
    objects = [SimpleNamespace(**r) for r in measured]
    assert all_attacker_cells_measured(objects) and unmeasured(objects) == ["c"]  # ResultRow objects read the same


# -- what each output says ---------------------------------------------------------------------------------------------


def _finding_rows() -> List[Dict[str, Any]]:
    return [
        fake_row("GET /api/me from attacker with credentials", "attacker", browser="chromium"),
        fake_row("GET /api/me from attacker with credentials", "attacker", browser="firefox"),
        fake_row("GET /api/me from dev_suffix with credentials", "dev_suffix", accepted="our staging host"),
        {**fake_row("GET /api/me from app", "app", "blocked", attacker=False), "matched": False, "reason": "refused"},
    ]


def test_terminal_counts_and_lists_findings_apart_from_unexpected_cells() -> None:
    from lab.terminal import mismatches, summary, totals

    rows = _finding_rows()
    line = totals(rows, 1.0)
    assert (
        "4 cells" in line
        and "1 as expected, 1 unexpected, 2 findings, 1 accepted credentialed read by attacker pages" in line
    )
    listed = mismatches(rows)
    assert listed[0] == "2 findings: attacker pages read credentialed responses"
    assert listed[1] == (
        "  scan/app: reflects any Origin with Access-Control-Allow-Credentials: true on 1 route: GET /api/me"
        " (chromium, firefox)"
    )
    assert (
        "  firefox: scan/app :: GET /api/me from attacker with credentials: https://attacker.example read GET /api/me"
        " with credentials (expected allowed)" in listed
    )
    assert listed[-2:] == [
        "1 other unexpected cell:",
        "  chromium: scan/app :: GET /api/me from app: blocked, expected allowed (refused)",
    ]
    table = summary(rows, ["chromium", "firefox"], color=False)
    assert "allowed FINDING" in table and "blocked (want allowed)" in table
    assert mismatches([r for r in rows if not r.get("finding")])[0].startswith("  chromium")  # no findings: no header


def test_explain_says_finding_or_accepted_even_when_as_expected() -> None:
    from lab.explain import story

    found, _, accepted, _ = _finding_rows()
    lines = story([found])
    assert "  chromium: ALLOWED (as expected), status 200" in lines
    assert "    FINDING: an attacker page reads a credentialed response" in lines
    assert any("to close it:" in line for line in lines)
    lines = story([accepted])
    assert "    accepted: our staging host" in lines and not any("FINDING" in line for line in lines)
    unmeasured_row = {**found, "finding": None, "outcome": "error", "expected": "error", "reason": NO_EXPECTATION}
    assert "  chromium: ERROR (no measured expectation), status 200" in story([unmeasured_row])


def test_explain_matches_a_case_name_exactly_before_a_part_of_one(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rows = _finding_rows()[:1] + [fake_row("GET /api/me from attacker", "attacker", credentials="omit")]
    results = write(tmp_path, "r.json", json.dumps({"environment": {}, "browsers": [], "results": rows}))
    assert main(["explain", "scan/app:GET /api/me from attacker", "--results", str(results)]) == 0
    told = capsys.readouterr().out
    assert "scan/app :: GET /api/me from attacker\n" in told and "with credentials" not in told
    assert main(["explain", 'scan/app:"GET /api/me from attacker"', "--results", str(results)]) == 0
    assert "with credentials" not in capsys.readouterr().out  # the quotes a shell left in
    assert main(["explain", "scan/app:from attacker", "--results", str(results)]) == 0
    both = capsys.readouterr().out
    assert "with credentials" in both and "FINDING: an attacker page reads a credentialed response" in both


def test_junit_annotations_and_sarif_carry_the_finding(tmp_path: Path) -> None:
    from lab.report.ci import github_annotations, junit_xml
    from lab.report.sarif import CREDENTIALED_READ, sarif_log
    from tests.test_ci_formats import assert_valid_sarif

    rows = _finding_rows()
    where = {("scan/app", r["case"]): (str(tmp_path / "scan" / "app.toml"), 10 + i) for i, r in enumerate(rows)}
    root = ElementTree.fromstring(junit_xml(rows, where, 1.0))
    assert root.get("failures") == "3" and root.get("errors") == "0"
    failures = [case.find("failure") for case in root.iter("testcase") if case.find("failure") is not None]
    finding = [f for f in failures if f.get("type") == "finding"]
    assert len(finding) == 2 and finding[0].get("message").startswith(
        "FINDING: an attacker page reads a credentialed response (page https://attacker.example; the case expects it"
    )
    annotations = github_annotations(rows, where, tmp_path)
    assert sum(a.startswith("::error ") and "FINDING: an attacker page reads" in a for a in annotations) == 2
    assert [a for a in annotations if a.startswith("::notice ")][0].endswith(
        "accepted credentialed read by an attacker page: our staging host"
    )
    log = sarif_log(rows, where, root=tmp_path)
    assert_valid_sarif(log)
    results = log["runs"][0]["results"]
    cells = [r for r in results if r["ruleId"] == CREDENTIALED_READ]
    assert len(cells) == 3 and sum("suppressions" in r for r in cells) == 1
    suppressed = next(r for r in cells if "suppressions" in r)
    assert suppressed["suppressions"] == [{"kind": "inSource", "justification": "our staging host"}]
    assert "accepted: our staging host" in suppressed["message"]["text"]
    config = [r for r in results if r["ruleId"] == REFLECTS_ANY]
    assert len(config) == 1 and config[0]["properties"]["routes"] == ["GET /api/me"]
    assert config[0]["properties"]["browsers"] == ["chromium", "firefox"]
    assert config[0]["message"]["text"] == (
        "scan/app: the configuration reflects any Origin with"
        " Access-Control-Allow-Credentials: true on 1 route: GET /api/me (seen in chromium, firefox)"
    )
    assert (
        config[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == where[("scan/app", rows[0]["case"])][1]
    )
    assert not any(r["ruleId"] == LOOK_ALIKE for r in results)  # the look-alike read was accepted


def test_sarif_no_longer_asks_the_scan() -> None:
    source = (ROOT / "lab" / "report" / "sarif.py").read_text(encoding="utf-8")
    assert "scan" not in [
        line.split()[1].rsplit(".", 1)[-1] for line in source.splitlines() if line.startswith("from ")
    ]
    assert "import attacker_origins" not in source and "..scan" not in source


def test_diff_lists_a_cell_that_became_or_stopped_being_an_error_or_a_finding(tmp_path: Path) -> None:
    from lab.report.diff import compare

    def document(*rows: Dict[str, Any]) -> Dict[str, Any]:
        return {
            "environment": {},
            "browsers": [],
            "pins": [{"label": "p"}],
            "results": [{**r, "pin": "p"} for r in rows],
        }

    fine = fake_row("c", "app", "allowed", attacker=False)
    broken = {**fine, "outcome": "error", "matched": False, "reason": "backend did not start"}
    for old, new in ((fine, broken), (broken, fine)):
        comparison = compare(document(old), document(new))
        assert [c.key[1] for c in comparison.changes] == ["c"] and comparison.failed
    expected_app_error = {**fine, "outcome": "error", "expected": "error", "matched": True}
    assert not compare(document(expected_app_error), document(expected_app_error)).failed
    still_broken = compare(document(broken), document(broken))
    assert not still_broken.changes and still_broken.failed and still_broken.summary()[1].startswith("NOT MEASURED")
    accepted = fake_row("a", "attacker", accepted="known")
    found = fake_row("a", "attacker")
    comparison = compare(document(accepted), document(found))
    assert comparison.failed and comparison.changes[0].lines()[0].endswith(
        "allowed -> allowed (now a FINDING: an attacker page reads a credentialed response)"
    )
    assert comparison.summary()[-1].startswith("FINDINGS in NEW: 1 cells")
    old_file, new_file = (
        write(tmp_path, "old.json", json.dumps(document(fine))),
        write(tmp_path, "new.json", json.dumps(document(broken))),
    )
    assert main(["diff", str(old_file), str(new_file)]) == 1


def test_a_results_file_from_before_findings_still_loads(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from lab.report.cells import load_document

    old = fake_row("c", "attacker")
    for name in ("attacker", "finding", "accepted"):
        del old[name]
    old["matched"] = True
    path = write(
        tmp_path,
        "old.json",
        json.dumps({"environment": {"python": "3.11.7", "playwright": "1.64.1"}, "browsers": [], "results": [old]}),
    )
    loaded = load_document(path)["results"][0]
    assert (loaded["attacker"], loaded["finding"], loaded["accepted"]) == (False, None, None)
    assert main(["report", str(path)]) == 0
    assert main(["explain", "scan/app:c", "--results", str(path)]) == 0
    assert "FINDING" not in capsys.readouterr().out


# -- in real browsers ---------------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_a_reflecting_backend_is_a_finding_in_every_browser_and_fails_the_run_unless_accepted(
    browsers: list, tmp_path: Path
) -> None:
    hole = write(tmp_path, "hole.toml", HOLE)
    cells = run_rows([hole], browsers)
    scenario = next(iter(cells))[0]
    for browser in ("chromium", "firefox", "webkit"):
        read = cells[(scenario, READ, browser)]
        assert (read.outcome, read.attacker, read.finding, read.matched) == ("allowed", True, FINDING, False), (
            read.reason
        )
        assert read.request["page"] == "attacker" and read.status == 200
        without = cells[(scenario, "GET /api/me from attacker", browser)]
        assert (without.outcome, without.finding, without.matched) == ("allowed", None, True)
        assert cells[(scenario, "GET /api/me from app with credentials", browser)].matched
    found = config_findings([r.to_dict() for r in cells.values()])
    assert [(f.rule_id, f.routes, f.browsers) for f in found] == [
        (REFLECTS_ANY, ("GET /api/me",), ("chromium", "firefox", "webkit"))
    ]
    assert all_attacker_cells_measured(list(cells.values()))

    out, junit = tmp_path / "r.json", tmp_path / "junit.xml"
    done = lab("run", str(hole), "--browser", "chromium", "--out", str(out), "--junit", str(junit), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 as expected, 0 unexpected, 1 finding" in done.stdout
    assert "1 finding: attacker pages read credentialed responses" in done.stdout
    assert (
        "hole: reflects any Origin with Access-Control-Allow-Credentials: true on 1 route: GET /api/me (chromium)"
        in done.stdout
    )
    failure = ElementTree.parse(junit).getroot().find(".//failure")
    assert failure is not None and failure.get("message").startswith(
        "FINDING: an attacker page reads a credentialed response"
    )
    scenario = json.loads(out.read_text())["results"][0]["scenario"]  # as the run names it from its own folder
    explained = lab("explain", f"{scenario}:{READ}", "--results", str(out), cwd=tmp_path)
    assert explained.returncode == 0 and "FINDING: an attacker page reads a credentialed response" in explained.stdout
    assert "ALLOWED (as expected)" in explained.stdout
    shorter = lab("explain", f"{scenario}:GET /api/me from attacker", "--results", str(out), cwd=tmp_path)
    assert shorter.returncode == 0 and shorter.stdout.count("ALLOWED (as expected)") == 1, shorter.stdout
    assert "FINDING" not in shorter.stdout and READ not in shorter.stdout  # this case only, not the longer name

    accepted = write(tmp_path, "accepted.toml", ACCEPTED)
    done = lab("run", str(accepted), "--browser", "chromium", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 as expected, 0 unexpected, 1 accepted credentialed read by attacker pages" in done.stdout
    row_ = next(r for r in json.loads(out.read_text())["results"] if r["case"] == READ)
    assert (row_["finding"], row_["accepted"], row_["matched"]) == (
        None,
        "a public profile: the data is not secret",
        True,
    )


@pytest.mark.browser
def test_the_pytest_plugin_fails_a_finding_with_its_text(browsers: list, tmp_path: Path) -> None:
    write(tmp_path, "cors_hole.toml", HOLE)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "cors_hole.toml",
            "--browser",
            "chromium",
            "--junitxml",
            "r.xml",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "1 failed, 2 passed" in output, output
    assert "FINDING: an attacker page reads a credentialed response" in output
    failed = [
        c for c in ElementTree.parse(tmp_path / "r.xml").getroot().iter("testcase") if c.find("failure") is not None
    ]
    assert [c.get("name") for c in failed] == [f"{READ}[chromium]"]
    assert "FINDING: an attacker page reads a credentialed response" in failed[0].find("failure").get("message")


def test_an_engine_that_cannot_be_told_neither_blocks_nor_makes_an_all_clear() -> None:
    """A case WebKit cannot run (`unsupported`) is judged on the engines that measured it; one that no engine
    measured leaves no all-clear."""
    from lab.findings import all_attacker_cells_measured

    def row(browser: str, outcome: str, case: str = "c") -> Dict[str, Any]:
        return {
            "scenario": "s",
            "case": case,
            "browser": browser,
            "outcome": outcome,
            "attacker": True,
            "request": {"page": "attacker"},
        }

    assert all_attacker_cells_measured([row("chromium", "blocked"), row("webkit", "unsupported")])
    assert not all_attacker_cells_measured([row("chromium", "blocked"), row("webkit", "unsupported", "d")])
    assert not all_attacker_cells_measured([row("webkit", "unsupported")])
    assert not all_attacker_cells_measured([row("chromium", "error"), row("webkit", "unsupported")])
