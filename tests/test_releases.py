"""The release history for real: old flask-cors releases on an older Python, in every browser, and what the
docs page, the HTML report and the upgrade check say about them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from lab.pins import Pin, ensure_env, find_interpreter, load_pins
from lab.report.releases import (
    KnownChange,
    between,
    case_changes,
    consecutive_pin_changes,
    load_changes,
    pin_pair,
    releases_markdown,
    upgrade_coverage,
)
from lab.scenario import load_file, load_scenarios
from tests.conftest import lab_cli, run_rows

ROOT = Path(__file__).parent.parent
ENGINES = ("chromium", "firefox", "webkit")
PAIRS = (("2.1.3", "3.0.0"), ("6.0.3", "6.0.5"))


def test_python_39_is_found_past_an_inactive_pyenv_shim() -> None:
    """`python = "3.9"` must work where `python3.9` on PATH is a pyenv shim that fails unless 3.9 is active."""
    shim = shutil.which("python3.9")
    if shim is not None and "shims" in shim:
        broken = subprocess.run([shim, "--version"], capture_output=True, text=True)
        print(f"python3.9 on PATH is a pyenv shim; running it exits {broken.returncode}")
    found = find_interpreter("3.9")
    version = subprocess.run(
        [found, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert version.startswith("3.9."), (found, version)


def test_a_missing_python_is_a_pin_error_that_says_what_to_do(tmp_path: Path) -> None:
    env = ensure_env(Pin("3.1", "6.0", python="3.99"), tmp_path / "envs")
    assert env.python is None and env.error is not None
    assert "no working Python 3.99 found" in env.error and "uv python install 3.99" in env.error


def test_a_pin_environment_comes_with_bytecode(tmp_path: Path) -> None:
    """Pin hosts import Flask and the lab's modules in every run: with PYTHONDONTWRITEBYTECODE set (as on CI machines)
    nothing would ever be cached, so the environment is built with bytecode for both."""
    lab_package = Path(__file__).resolve().parent.parent / "lab"
    (lab_package / "__pycache__" / f"pinhost.{sys.implementation.cache_tag}.pyc").unlink(missing_ok=True)
    env = ensure_env(Pin("3.1", "6.0"), tmp_path / "envs")  # no python named: this interpreter's version
    assert env.error is None and env.python is not None, env.error
    tag = subprocess.run(
        [env.python, "-c", "import sys; print(sys.implementation.cache_tag)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    flask = Path(
        subprocess.run(
            [env.python, "-c", "import flask, os; print(os.path.dirname(flask.__file__))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    assert list((flask / "__pycache__").glob(f"app.{tag}.pyc"))
    assert list((lab_package / "__pycache__").glob(f"pinhost.{tag}.pyc"))


def test_the_catalog_names_real_scenarios_and_every_versioned_scenario_is_in_it() -> None:
    changes = load_changes()
    library = {s.id: s for s in load_scenarios([ROOT / "scenarios"])}
    cited = {sid for change in changes for sid in change.scenarios}
    assert cited <= set(library), cited - set(library)
    for change in changes:
        kinds = [bool(change.scenarios), change.unobservable is not None, change.pending is not None]
        assert sum(kinds) == 1, change  # observable with scenarios, unobservable, or pending: exactly one
        assert change.source and change.what
    for scenario in library.values():
        versioned = scenario.backend.start_error or any(c.expect_by_version for c in scenario.cases)
        if scenario.group in ("flask-cors", "flask") and versioned:
            assert scenario.id in cited, (
                f"{scenario.id} has version-dependent expectations but no entry in lab/changes.toml"
            )
            assert scenario.source, scenario.id
    crossed = [c.version for c in between(changes, "flask-cors", "5.0.1", "6.0.1")]
    assert crossed and set(crossed) == {"6.0.0", "6.0.1"}


@pytest.fixture(scope="module")
def history(browsers: list, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """The flask-cors group on 2.1.3 -> 3.0.0 (Flask 2.2, Python 3.9) and 6.0.3 -> 6.0.5 (Flask 3.1), every engine."""
    folder = tmp_path_factory.mktemp("history")
    pins = folder / "pins.toml"
    pins.write_text(
        '[[pin]]\nflask = "2.2"\nflask-cors = "2.1.3"\npython = "3.9"\n\n'
        '[[pin]]\nflask = "2.2"\nflask-cors = "3.0.0"\npython = "3.9"\n\n'
        '[[pin]]\nflask = "3.1"\nflask-cors = "6.0.3"\n\n[[pin]]\nflask = "3.1"\nflask-cors = "6.0.5"\n'
    )
    out = folder / "history.json"
    done = lab_cli(
        "run", "--group", "flask-cors", "--pins", str(pins), "--envs", str(folder / "envs"), "--out", str(out)
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]  # every cell as its version expects
    singles = {}
    for version in ("6.0.3", "6.0.5"):
        singles[version] = folder / f"single-{version}.json"
        again = lab_cli(
            "run",
            "--group",
            "flask-cors",
            "--flask",
            "3.1",
            "--flask-cors",
            version,
            "--browser",
            "chromium",
            "--envs",
            str(folder / "envs"),
            "--out",
            str(singles[version]),
        )
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    return {"run": out, "folder": folder, **singles}


def _document(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _by_pin(document: dict, flask_cors: str) -> Dict[tuple, dict]:
    label = next(p["label"] for p in document["pins"] if p["flask-cors"] == flask_cors)
    return {(r["scenario"], r["case"], r["browser"]): r for r in document["results"] if r["pin"] == label}


def test_old_releases_ran_on_python_39(history: Dict[str, Path]) -> None:
    pins = {p["flask-cors"]: p for p in _document(history["run"])["pins"]}
    for version in ("2.1.3", "3.0.0"):
        assert pins[version]["python"].startswith("3.9.") and pins[version]["flask"].startswith("2.2.")
        assert pins[version]["error"] is None


def test_each_release_pair_changes_cells_in_every_engine_and_each_change_is_cited(history: Dict[str, Path]) -> None:
    document = _document(history["run"])
    changes = load_changes()
    for old, new in PAIRS:
        before, after = _by_pin(document, old), _by_pin(document, new)
        changed = [key for key in before if key in after and before[key]["outcome"] != after[key]["outcome"]]
        assert {key[2] for key in changed} == set(ENGINES), (old, new, changed)
        known = between(changes, "flask-cors", old, new)
        explained = {sid for change in known for sid in change.scenarios}
        for scenario, _case, _browser in changed:
            assert scenario in explained, f"{scenario} changed between {old} and {new} with no known change citing it"
    crash = _by_pin(document, "3.0.0")[
        ("flask-cors/invalid-origin-regex-first", "GET from the app, listed after the bad pattern", "firefox")
    ]
    assert (
        crash["outcome"] == "error" and crash["matched"] and "nothing to repeat" in crash["reason"]
    )  # the app's own error
    assert _by_pin(document, "2.1.3")[crash["scenario"], crash["case"], "firefox"]["outcome"] == "allowed"
    startup = _by_pin(document, "6.0.5")[
        ("flask-cors/invalid-origin-regex", "GET from the app, listed before the bad pattern", "webkit")
    ]
    assert startup["outcome"] == "error" and startup["matched"] and "Invalid regular expression" in startup["reason"]


def test_the_releases_page_and_the_html_view_of_consecutive_pins(history: Dict[str, Path]) -> None:
    page, html = history["folder"] / "releases.md", history["folder"] / "releases.html"
    done = lab_cli("report", str(history["run"]), "--releases", str(page), "--html", str(html))
    assert done.returncode == 0, done.stderr
    text = page.read_text(encoding="utf-8")
    row = next(
        line for line in text.splitlines() if line.startswith("| flask-cors 3.0.0 |") and "look-alike host" in line
    )
    assert row.count("allowed → blocked") == 3 and "2.1.3 → 3.0.0" in row and "#165" in row
    row = next(
        line for line in text.splitlines() if line.startswith("| flask-cors 6.0.5 |") and "invalid-origin-regex" in line
    )
    assert row.count("allowed → error") == 3
    assert "## Changes no browser can observe" in text and "| flask-cors 4.0.1 |" in text
    # the Private Network Access releases are decided by measurements, and this run has no pair for them
    assert "- flask-cors 5.0.0: allow_private_network defaults to False" in text.split("## Not measured in this run")[1]
    data = json.loads(
        re.search(r'<script type="application/json" id="data">(.*?)</script>', html.read_text(), re.S).group(1)
    )
    steps = {(s["old"], s["new"]): s for s in data["pinSteps"]}
    step = steps[("flask 2.2 / flask-cors 2.1.3 python 3.9", "flask 2.2 / flask-cors 3.0.0 python 3.9")]
    assert {c["browser"] for c in step["cells"]} == set(ENGINES)
    assert step["differs"] == "flask-cors 2.1.3 → 3.0.0"
    assert all(c["before"] != c["after"] for c in step["cells"])
    document = _document(history["run"])
    pair = pin_pair(next(c for c in load_changes() if c.version == "3.0.0"), document["pins"])
    assert pair is not None and (pair[0]["flask-cors"], pair[1]["flask-cors"]) == ("2.1.3", "3.0.0")


def test_the_upgrade_check_lists_the_known_changes_and_which_showed_up(history: Dict[str, Path]) -> None:
    done = lab_cli("diff", str(history["6.0.3"]), str(history["6.0.5"]))
    assert done.returncode == 1, done.stdout + done.stderr
    lines: List[str] = done.stdout.splitlines()
    assert any(
        line.startswith("CHANGED flask-cors/invalid-origin-regex") and "allowed -> error" in line for line in lines
    )
    assert "Known changes between flask-cors 6.0.3 and 6.0.5 (2 in lab/changes.toml):" in lines
    assert (
        "    showed up: 2 changed cell(s) in flask-cors/invalid-origin-regex, flask-cors/invalid-origin-regex-first"
        in lines
    )
    assert any(line.startswith("    not observable in a browser: Typing") for line in lines)


def test_an_expected_app_error_needs_its_text(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    base = (
        'title = "t"\n[backend]\n[[backend.routes]]\npath = "/x"\n[[cases]]\nname = "c"\npath = "/x"\n'
        'expect = "allowed"\nexpect_by_version = { "flask-cors<6" = "VALUE" }\n'
    )
    path.write_text(base.replace("VALUE", "error: nothing to repeat"))
    scenario, problems = load_file(path)
    assert scenario is not None and not problems
    assert scenario.expected(scenario.cases[0], "chromium", {"flask-cors": "5.0.1"}) == "error: nothing to repeat"
    for wrong in ("error: ", "error", "crash"):
        path.write_text(base.replace("VALUE", wrong))
        _, problems = load_file(path)
        assert problems and problems[0].line == 9 and "error: TEXT" in problems[0].message, wrong


def test_start_error_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'title = "t"\n[backend]\nstart_error = { "flask-cors about 6" = "x", "flask<9" = "" }\n'
        '[[backend.routes]]\npath = "/x"\n[[cases]]\nname = "c"\npath = "/x"\nexpect = "allowed"\n'
    )
    scenario, problems = load_file(path)
    assert scenario is None and [p.line for p in problems] == [3, 3]
    assert "not a version condition" in problems[0].message and "piece of the expected error" in problems[1].message


def test_start_error_matches_only_a_real_start_failure_with_its_text(browsers: list, tmp_path: Path) -> None:
    """`resources = 5` makes CORS(app) raise in every flask-cors release: expected with the right text it matches;
    with another text, or on an app that starts, the cells are mismatches."""
    chromium = [c for c in browsers if c.name == "chromium"]
    body = '[[backend.routes]]\npath = "/x"\n[[cases]]\nname = "c"\npath = "/x"\nexpect = "allowed"\n'
    files = {
        "right": 'title = "t"\n[backend]\ncors = { resources = 5 }\nstart_error = { "flask>=0" = "Unexpected value" }\n',
        "wrong": 'title = "t"\n[backend]\ncors = { resources = 5 }\nstart_error = { "flask>=0" = "Invalid regular" }\n',
        "starts": 'title = "t"\n[backend]\ncors = {}\nstart_error = { "flask>=0" = "Unexpected value" }\n',
        "never": 'title = "t"\n[backend]\ncors = {}\nstart_error = { "flask<0.1" = "Unexpected value" }\n',
    }
    folder = tmp_path / "start"
    folder.mkdir()
    for name, head in files.items():
        (folder / f"{name}.toml").write_text(head + body)
    cells = {key[0].rsplit("/", 1)[1]: row for key, row in run_rows([folder], chromium).items()}
    assert cells["right"].outcome == "error" and cells["right"].expected == "error" and cells["right"].matched
    assert cells["wrong"].outcome == "error" and not cells["wrong"].matched
    assert cells["starts"].outcome == "allowed" and cells["starts"].expected == "error" and not cells["starts"].matched
    assert cells["never"].outcome == "allowed" and cells["never"].matched


# The Private Network Access releases, from rows built by hand: the report decides from the cells, never from a
# sentence about browsers, and a cell a browser could not measure (`unsupported`) is never a change.

PNA = "local-network/allow-private-network"
PNA_CHANGE = KnownChange(
    "flask-cors", "4.0.0", "answers Access-Control-Allow-Private-Network", "changelog #318", (PNA,), local_network=True
)
PNA_CASES = (
    ("unset, prompt", "prompt"),
    ("unset, permission granted", "granted"),
    ("true, permission denied", "denied"),
)
PNA_BROWSERS = [
    {"name": "chromium", "product": "Chromium", "version": "156.0.8078.129"},
    {"name": "firefox", "product": "Firefox ESR", "version": "153.8.0"},
    {"name": "webkit", "product": "WebKitGTK MiniBrowser", "version": "2.50.6"},
]
WEBKIT_REASON = "address spaces not supported by this engine: WebKitGTK has no address-space override"


def _pin(flask_cors: str) -> dict:
    return {
        "label": f"flask 3.1 / flask-cors {flask_cors}",
        "flask": "3.1.3",
        "flask-cors": flask_cors,
        "werkzeug": "3.1.9",
        "python": "3.11.7",
        "error": None,
    }


def _pna_row(flask_cors: str, case: str, permission: str, browser: str, outcome: str, asked: bool = False) -> dict:
    expected = "allowed" if permission == "granted" else "blocked"
    local_network = {"page_space": "public", "target_space": "loopback", "permission": permission, "secure_page": True}
    if outcome != "unsupported":  # as lab/cell.py records it: only a measured cell knows what the browser asked
        local_network["asked_private_network"] = asked
    return {
        "scenario": PNA,
        "group": "local-network",
        "case": case,
        "browser": browser,
        "engine": browser,
        "outcome": outcome,
        "expected": expected,
        "matched": outcome == expected,
        "pin": _pin(flask_cors)["label"],
        "reason": WEBKIT_REASON if outcome == "unsupported" else None,
        "local_network": local_network,
    }


def _pna_document(overrides: Optional[Dict[tuple, str]] = None, asked: Optional[Dict[tuple, bool]] = None) -> dict:
    """3.0.10 and 4.0.0, every case as measured (granted reads, prompt and denied do not; WebKit unsupported), with
    (version, case, browser) -> outcome in `overrides` and -> asked_private_network in `asked`."""
    overrides, asked, rows = overrides or {}, asked or {}, []
    for version in ("3.0.10", "4.0.0"):
        for case, permission in PNA_CASES:
            for browser in ENGINES:
                outcome = "unsupported" if browser == "webkit" else "allowed" if permission == "granted" else "blocked"
                key = (version, case, browser)
                rows.append(
                    _pna_row(version, case, permission, browser, overrides.get(key, outcome), asked.get(key, False))
                )
    return {"pins": [_pin("3.0.10"), _pin("4.0.0")], "browsers": PNA_BROWSERS, "results": rows}


def _sections(page: str) -> Dict[str, str]:
    return {part.split("\n", 1)[0]: part for part in page.split("\n## ")[1:]}


def _release_line(section: str, release: str) -> str:
    found = [line for line in section.splitlines() if line.startswith(f"| {release} |")]
    assert found, section
    return found[0]


def test_a_pna_release_no_engine_tells_apart_is_listed_with_what_each_engine_measured() -> None:
    document = _pna_document(asked={("4.0.0", "unset, permission granted", "firefox"): True})
    sections = _sections(releases_markdown(document, "cors-lab report", [PNA_CHANGE]))
    assert "flask-cors 4.0.0" not in sections["Changes a browser can observe"]
    line = _release_line(sections["Changes no browser can observe"], "flask-cors 4.0.0")
    assert "differs between 3.0.10 and 4.0.0 (flask 3.1.3, werkzeug 3.1.9, python 3.11.7)" in line
    assert (
        "Chromium 156.0.8078.129: the permission alone decides (granted → allowed; prompt, denied → blocked),"
        " no Access-Control-Request-Private-Network sent (6 cells)"
    ) in line
    # read from the rows: Firefox's one preflight that asked is counted, so it is not "same" as Chromium
    assert (
        "Firefox ESR 153.8.0: the permission alone decides (granted → allowed; prompt, denied → blocked);"
        " Access-Control-Request-Private-Network sent in 1 of 6 cells (6 cells)"
    ) in line
    assert f"WebKitGTK MiniBrowser 2.50.6: not measurable ({WEBKIT_REASON})" in line
    same = _sections(releases_markdown(_pna_document(), "cors-lab report", [PNA_CHANGE]))
    assert "Firefox ESR 153.8.0: same (6 cells)" in _release_line(
        same["Changes no browser can observe"], "flask-cors 4.0.0"
    )


def test_a_pna_release_an_engine_tells_apart_moves_to_the_changes_table() -> None:
    document = _pna_document({("4.0.0", "unset, prompt", "chromium"): "allowed"})
    sections = _sections(releases_markdown(document, "cors-lab report", [PNA_CHANGE]))
    line = _release_line(sections["Changes a browser can observe"], "flask-cors 4.0.0")
    assert f"| `{PNA}`: unset, prompt | blocked → allowed | blocked | n/a | 3.0.10 → 4.0.0" in line
    assert (
        len([row for row in sections["Changes a browser can observe"].splitlines() if "flask-cors 4.0.0" in row]) == 1
    )
    assert "flask-cors 4.0.0" not in sections["Changes no browser can observe"]
    lines = upgrade_coverage(
        {"pins": [_pin("3.0.10")], "browsers": PNA_BROWSERS, "results": _rows(document, "3.0.10")},
        {"pins": [_pin("4.0.0")], "browsers": PNA_BROWSERS, "results": _rows(document, "4.0.0")},
        [PNA_CHANGE],
    )
    assert f"    showed up: 1 changed cell(s) in {PNA}" in lines


def _rows(document: dict, flask_cors: str) -> List[dict]:
    return [row for row in document["results"] if row["pin"] == _pin(flask_cors)["label"]]


def test_an_unsupported_cell_is_never_a_change() -> None:
    # WebKit measured on 4.0.0 only (and the reverse for one case): each has a side with nothing measured
    document = _pna_document(
        {
            ("4.0.0", "unset, prompt", "webkit"): "allowed",
            ("4.0.0", "unset, permission granted", "webkit"): "blocked",
            ("3.0.10", "true, permission denied", "firefox"): "unsupported",
            ("4.0.0", "true, permission denied", "firefox"): "allowed",
        }
    )
    old, new = _rows(document, "3.0.10"), _rows(document, "4.0.0")
    assert case_changes(old, new, [PNA]) == []
    sections = _sections(releases_markdown(document, "cors-lab report", [PNA_CHANGE]))
    assert "flask-cors 4.0.0" not in sections["Changes a browser can observe"]
    line = _release_line(sections["Changes no browser can observe"], "flask-cors 4.0.0")
    assert (  # Firefox's denied case was not measured on 3.0.10: the rest is compared, and said
        "Firefox ESR 153.8.0: the permission alone decides (granted → allowed; prompt → blocked), no"
        f" Access-Control-Request-Private-Network sent (4 cells; 1 not measurable: {WEBKIT_REASON})"
    ) in line
    assert f"WebKitGTK MiniBrowser 2.50.6: not measurable ({WEBKIT_REASON})" in line
    (step,) = consecutive_pin_changes(document)
    assert step["cells"] == [] and step["compared"] == 3 + 2  # chromium's three cases, firefox's measured two
    coverage = upgrade_coverage(
        {"pins": [_pin("3.0.10")], "browsers": PNA_BROWSERS, "results": old},
        {"pins": [_pin("4.0.0")], "browsers": PNA_BROWSERS, "results": new},
        [PNA_CHANGE],
    )
    assert any(line.startswith(f"    no changed cell in {PNA}; measured: Chromium") for line in coverage), coverage
    # an ordinary change (no local_network) is not moved by unsupported cells either: no case changed
    plain = KnownChange("flask-cors", "4.0.0", "something else", "changelog", (PNA,))
    table = _sections(releases_markdown(document, "cors-lab report", [plain]))["Changes a browser can observe"]
    assert "| flask-cors 4.0.0 | something else | no case changed |" in table


def test_a_page_that_timed_out_is_not_compared_and_the_report_says_so() -> None:
    timed_out = _pna_row("3.0.10", "unset, prompt", "prompt", "firefox", "timeout")
    document = _pna_document()
    document["results"] = [
        timed_out if (r["pin"], r["case"], r["browser"]) == (timed_out["pin"], "unset, prompt", "firefox") else r
        for r in document["results"]
    ]
    assert case_changes(_rows(document, "3.0.10"), _rows(document, "4.0.0"), [PNA]) == []
    line = _release_line(
        _sections(releases_markdown(document, "cors-lab report", [PNA_CHANGE]))["Changes no browser can observe"],
        "flask-cors 4.0.0",
    )
    assert (
        "Firefox ESR 153.8.0: the permission alone decides (granted → allowed; denied → blocked), no"
        " Access-Control-Request-Private-Network sent (4 cells; 2 not compared, a page that timed out on one side)"
    ) in line


def test_the_pna_releases_are_catalogued_against_the_local_network_scenario() -> None:
    changes = {c.version: c for c in load_changes() if c.package == "flask-cors"}
    for version in ("4.0.0", "4.0.2", "5.0.0"):
        assert changes[version].local_network and changes[version].scenarios == (PNA,)
        assert changes[version].unobservable is None  # what browsers do is measured, never written down
    pins = {p.flask_cors for p in load_pins(ROOT / "pins-releases.toml") if p.flask == "3.1"}
    assert {"3.0.10", "4.0.0", "4.0.1", "4.0.2", "5.0.0"} <= pins and any(v.startswith("6.0") for v in pins)
