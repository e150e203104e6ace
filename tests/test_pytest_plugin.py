"""The pytest plugin as a user runs it: `pytest cors_api.toml --browser ... -n 2` in their own project folder.

Each test runs pytest in a separate process on files it writes, with the plugin found through its `pytest11`
entry point (nothing here loads it by hand), and reads what pytest printed and its JUnit XML.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path
from typing import List

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).parent.parent
API = """title = "My API"

[origins]
app = "https://app.example.com"
dev = "http://localhost:5173"
evil = "https://evil.example.net"
api = "https://api.example.com"

[backend]
cors = { origins = ["https://app.example.com", "http://localhost:5173"], supports_credentials = true }

[[backend.routes]]
path = "/items"
body = "[]"

[[cases]]
name = "vite dev server reads"
page = "dev"
path = "/items"
credentials = "include"
expect = "allowed"

[[cases]]
name = "production frontend reads"
page = "app"
path = "/items"
credentials = "include"
expect = "allowed"

[[cases]]
name = "another site reads"
page = "evil"
path = "/items"
credentials = "include"
expect = "allowed"
"""


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """`pytest ARGS` run in `folder`, as a user runs it in their project."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )


def cells_in(report: Path) -> List[ElementTree.Element]:
    return list(ElementTree.parse(report).getroot().iter("testcase"))


def test_a_scenario_file_is_a_test_per_case_and_browser(tmp_path: Path) -> None:
    """The issue's example: three cases, one wrongly expected, two browsers, two xdist workers."""
    (tmp_path / "cors_api.toml").write_text(API)
    done = pytest_in(
        tmp_path, "cors_api.toml", "--browser", "chromium", "--browser", "firefox", "-n", "2", "--junitxml", "r.xml"
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "2 failed, 4 passed" in output, output
    names = sorted(case.get("name") for case in cells_in(tmp_path / "r.xml"))
    assert names == sorted(
        f"{case}[{browser}]"
        for case in ("vite dev server reads", "production frontend reads", "another site reads")
        for browser in ("chromium", "firefox")
    )
    failed = sorted(c.get("name") for c in cells_in(tmp_path / "r.xml") if c.find("failure") is not None)
    assert failed == ["another site reads[chromium]", "another site reads[firefox]"]
    # The failure tells the case's story, as `cors-lab explain` does.
    assert "BLOCKED (expected allowed)" in output
    assert "server saw:  Origin: https://evil.example.net" in output
    assert "standard says:  blocked: the response has no Access-Control-Allow-Origin header" in output
    # Each worker launched each browser once, however many of its tests it measured.
    launches = Counter(
        p.get("value") for c in cells_in(tmp_path / "r.xml") for p in c.iter("property") if p.get("name") == "launches"
    )
    assert launches and all(value.endswith(":1") for value in launches), launches
    assert len({value.split("/")[0] for value in launches}) == 2  # both workers measured cells


def test_collects_cors_files_from_the_folders_pytest_searches(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "cors_api.toml").write_text(API)
    (tmp_path / "api" / "settings.toml").write_text("not = 'a scenario'\n")  # not collected: not cors_* or test_*
    done = pytest_in(tmp_path, "--browser", "webkit", "--collect-only", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "api/cors_api.toml::vite dev server reads[webkit]" in done.stdout
    assert "settings.toml" not in done.stdout


def test_a_broken_scenario_file_is_a_collection_error_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "test_broken.toml").write_text(API.replace('path = "/items"\nbody', 'path = "items"\nbody'))
    done = pytest_in(tmp_path, "--browser", "chromium")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{tmp_path / 'test_broken.toml'}:13: route path 'items' must start with '/'" in done.stdout, done.stdout


FIXTURE_TESTS = """
from flask import Flask
from flask_cors import CORS

app = Flask(__name__)
CORS(app, origins=["https://app.example.com"], supports_credentials=True, expose_headers=["X-Total"])


@app.get("/items")
def items():
    return {"items": []}, 200, {"X-Total": "0"}


def test_the_frontend_reads_with_credentials(cors_lab):
    row = cors_lab.fetch(app, "https://api.example.com/items", page="https://app.example.com",
                         credentials="include", read_headers=["X-Total"])
    assert row.outcome == "allowed" and row.status == 200
    assert row.read_headers["X-Total"] == "0"
    assert row.exchanges[0]["request_headers"]["Origin"] == "https://app.example.com"
    assert row.browser == cors_lab.browser


def test_another_site_is_refused(cors_lab):
    row = cors_lab.fetch(app, "https://api.example.com/items", page="https://evil.example.net", credentials="include")
    assert row.outcome == "blocked"


def test_a_scenario_file_from_python(cors_lab):
    rows = cors_lab.run("cors_api.toml", case="vite dev server reads")
    assert [(r.case, r.outcome) for r in rows] == [("vite dev server reads", "allowed")]
"""


def test_the_cors_lab_fixture_checks_an_app_object_in_each_browser(tmp_path: Path) -> None:
    (tmp_path / "cors_api.toml").write_text(API)
    (tmp_path / "test_api.py").write_text(FIXTURE_TESTS)
    done = pytest_in(tmp_path, "test_api.py", "--browser", "chromium", "--browser", "webkit", "-v")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout
    assert "test_another_site_is_refused[webkit] PASSED" in done.stdout


def test_pins_are_a_parameter(tmp_path: Path) -> None:
    """`--flask-cors` twice: each case in each browser under each release, expectations per release."""
    source = (ROOT / "scenarios" / "flask-cors" / "resource-path-case.toml").read_text()
    (tmp_path / "cors_paths.toml").write_text(source)
    done = pytest_in(
        tmp_path,
        "cors_paths.toml",
        "--browser",
        "chromium",
        "--flask",
        "3.1",
        "--flask-cors",
        "5.0.1",
        "--flask-cors",
        "6.0",
        "--cors-lab-envs",
        str(tmp_path / "envs"),
        "-v",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[chromium-flask3.1-flask-cors5.0.1] PASSED" in done.stdout
    assert "[chromium-flask3.1-flask-cors6.0] PASSED" in done.stdout


UI_TESTS = '''
import shutil

import pytest


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's own Chromium: the one on this machine (a user with internet has Playwright's build)."""
    from lab.browsers.discovery import find_browsers

    chromium = next(c for c in find_browsers() if c.engine == "chromium")
    return {**browser_type_launch_args, "executable_path": chromium.executable}


def test_page_title(page):
    page.set_content("<title>hello</title>")
    assert page.title() == "hello"
'''


def test_runs_next_to_pytest_playwright_sharing_its_browser_option(tmp_path: Path) -> None:
    """pytest-playwright defines --browser too: one option serves both, and its sync `page` fixture and the lab's
    browsers (each on its own thread) live in one session, whichever runs first."""
    pytest.importorskip("pytest_playwright")
    (tmp_path / "cors_api.toml").write_text(API)
    (tmp_path / "test_ui.py").write_text(UI_TESTS)
    for order in (["test_ui.py", "cors_api.toml"], ["cors_api.toml", "test_ui.py"]):
        done = pytest_in(tmp_path, *order, "--browser", "chromium", "-v")
        assert done.returncode == 1, done.stdout + done.stderr
        assert "test_page_title[chromium] PASSED" in done.stdout, done.stdout
        assert "cors_api.toml::vite dev server reads[chromium] PASSED" in done.stdout
        assert "1 failed, 3 passed" in done.stdout
