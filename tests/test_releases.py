"""The release history for real: old flask-cors releases on an older Python, in every browser, and what the
docs page, the HTML report and the upgrade check say about them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from lab.pins import Pin, ensure_env, find_interpreter
from lab.report.releases import between, load_changes, pin_pair
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
    assert "## Changes no browser can observe" in text and "CVE-2024-6221" in text
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
