"""The user's own Flask app under test, unmodified: an app factory, a blueprint, configuration from the environment."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Dict, List

import pytest

from lab.browsers.base import Candidate
from lab.scenario import load_file
from tests.conftest import ENGINES, lab_cli

APP = """
import os
from flask import Blueprint, Flask, jsonify
from flask_cors import CORS
from packaging.version import Version  # a requirement of the app's own, not of Flask: requirements.txt brings it

api = Blueprint("api", __name__)


@api.get("/items/<int:item_id>")
def item(item_id):
    return jsonify(id=item_id)


@api.post("/items")
def create():
    return jsonify(created=True), 201


def create_app(name="shop"):
    app = Flask(name)
    frontend = os.environ["FRONTEND_URL"]
    app.register_blueprint(api, url_prefix="/api")

    @app.get("/API/legacy")
    def legacy():
        return "legacy"

    CORS(app, resources={r"/api/*": {"origins": [frontend, "http://localhost:5173"]}}, supports_credentials=True)
    return app
"""

SCENARIO = """
title = "My shop's API, as it really is"
[origins]
app = "https://shop.example.com"
dev = "http://localhost:5173"
evil = "https://shop.example.com.evil.net"
api = "https://api.shop.example.com"

[backend]
app = "shop.factory:create_app('shop')"
project = "project"
env = { FRONTEND_URL = "{app}" }

[[cases]]
name = "GET /api/items/1 from the shop, with credentials"
path = "/api/items/1"
credentials = "include"
expect = "allowed"

[[cases]]
name = "POST /api/items (JSON) from the Vite dev server"
page = "dev"
path = "/api/items"
method = "POST"
headers = { Content-Type = "application/json" }
body = '{"name": "x"}'
credentials = "include"
expect = "allowed"

[[cases]]
name = "GET /api/items/1 from a look-alike host"
page = "evil"
path = "/api/items/1"
credentials = "include"
expect = "blocked"

[[cases]]
name = "GET /API/legacy from the shop"
path = "/API/legacy"
expect = "blocked"
expect_by_version = { "flask-cors<6" = "allowed" }
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shop")
    package = folder / "project" / "shop"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "factory.py").write_text(textwrap.dedent(APP))
    # The pin's flask-cors overrides the app's own pin of it (5.0.1 is below ">=6").
    (folder / "project" / "requirements.txt").write_text("packaging>=22  # used by the app\nflask-cors>=6.0\n")
    (folder / "shop-cors.toml").write_text(SCENARIO)
    return folder / "shop-cors.toml"


def test_an_app_backend_cannot_be_mixed_with_a_described_one(shop: Path, tmp_path: Path) -> None:
    scenario, problems = load_file(shop)
    assert scenario is not None and not problems and scenario.backend.app is not None
    assert (scenario.backend.app.module, scenario.backend.app.attribute, scenario.backend.app.args) == (
        "shop.factory",
        "create_app",
        ("shop",),
    )
    bad = tmp_path / "bad.toml"
    bad.write_text(
        SCENARIO.replace('env = { FRONTEND_URL = "{app}" }', 'env = { FRONTEND_URL = "{app}" }\ncors = {}')
        .replace("create_app('shop')", "create_app(os.environ)")
        .replace('project = "project"', 'project = "nowhere"')
    )
    _, problems = load_file(bad)
    messages = " | ".join(p.message for p in problems)
    assert "`cors` describes a backend, but `app` names your own application" in messages
    assert "the factory's arguments must be literals" in messages and "project = 'nowhere': no such folder" in messages


def test_the_app_as_it_is_in_every_engine(shop: Path, browsers: List[Candidate], tmp_path: Path) -> None:
    out = tmp_path / "shop.json"
    done = lab_cli("run", str(shop), "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads(out.read_text())["results"]
    assert {r["browser"] for r in rows} == set(ENGINES) and all(r["matched"] for r in rows)
    created = [r for r in rows if r["case"].startswith("POST")]
    assert all(r["status"] == 201 and r["preflight"] for r in created)  # the app's own view answered, after a preflight
    for row in rows:
        for exchange in row["exchanges"]:
            assert exchange["request_headers"]["Host"] == "api.shop.example.com"
    explained = lab_cli("explain", f"{shop}:look-alike", "--results", str(out))  # a file path works as an id does
    assert explained.returncode == 0, explained.stderr
    assert (
        "page https://shop.example.com.evil.net fetches GET https://api.shop.example.com/api/items/1"
        in explained.stdout
    )


def test_the_upgrade_check_names_the_apps_route(shop: Path, browsers: List[Candidate], tmp_path: Path) -> None:
    runs: Dict[str, Path] = {}
    for version in ("5.0.1", "6.0"):
        runs[version] = tmp_path / f"shop-{version}.json"
        done = lab_cli(
            "run",
            str(shop),
            "--flask",
            "3.1",
            "--flask-cors",
            version,
            "--browser",
            "chromium",
            "--envs",
            str(tmp_path / "envs"),
            "--out",
            str(runs[version]),
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    versions = {v: json.loads(path.read_text())["pins"][0]["flask-cors"] for v, path in runs.items()}
    assert versions["5.0.1"] == "5.0.1" and versions["6.0"].startswith("6.0.")  # the pin wins over requirements.txt
    diff = lab_cli("diff", str(runs["5.0.1"]), str(runs["6.0"]))
    assert diff.returncode == 1, diff.stdout + diff.stderr
    changed = [line for line in diff.stdout.splitlines() if line.startswith("CHANGED")]
    assert len(changed) == 1 and "GET /API/legacy from the shop [chromium]: allowed -> blocked" in changed[0]
    assert "after:  request GET /API/legacy -> 200 [no CORS headers]" in diff.stdout


def test_an_app_that_cannot_be_installed_is_an_error_for_its_pin(
    shop: Path, browsers: List[Candidate], tmp_path: Path
) -> None:
    broken = shop.parent / "broken-cors.toml"
    broken.write_text(
        SCENARIO.replace(
            'env = { FRONTEND_URL = "{app}" }',
            'env = { FRONTEND_URL = "{app}" }\nrequirements = ["no-such-package-cors-lab-test==1.0"]',
        )
    )
    out = tmp_path / "broken.json"
    done = lab_cli(
        "run",
        str(broken),
        "--flask",
        "3.1",
        "--flask-cors",
        "6.0",
        "--browser",
        "chromium",
        "--envs",
        str(tmp_path / "envs"),
        "--out",
        str(out),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    rows = json.loads(out.read_text())["results"]
    assert {r["outcome"] for r in rows} == {"error"} and all(
        "no-such-package-cors-lab-test" in r["reason"] for r in rows
    )


def test_scan_writes_a_file_that_reruns_and_its_upgrade_check_names_the_route(
    shop: Path, browsers: List[Candidate], tmp_path: Path
) -> None:
    scanned = tmp_path / "shop-scan.toml"
    done = lab_cli(
        "scan",
        "shop.factory:create_app()",
        "--project",
        str(shop.parent / "project"),
        "--origin",
        "https://shop.example.com",
        "--origin",
        "dev=http://localhost:5173",
        "--api",
        "https://api.shop.example.com",
        "--env",
        "FRONTEND_URL={app}",
        "--out",
        str(scanned),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "wrote" in done.stdout and "42 cases" in done.stdout
    assert "no attacker page could read a credentialed response" in done.stdout
    scenario, problems = load_file(scanned)
    assert scenario is not None and not problems
    expected = {case.name: case.expect for case in scenario.cases}
    assert expected["GET /api/items/1 from app with credentials"] == "allowed"
    assert expected["POST /api/items from dev with credentials"] == "allowed"
    attackers = [c for c in scenario.cases if c.page not in ("app", "dev") or c.sandboxed]
    assert attackers and all(c.expect == "blocked" and not c.expect_per_browser for c in attackers)
    again = lab_cli("run", str(scanned), "--out", str(tmp_path / "again.json"))
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    runs = {}
    for version in ("5.0.1", "6.0"):
        runs[version] = tmp_path / f"scan-{version}.json"
        lab_cli(
            "run",
            str(scanned),
            "--flask",
            "3.1",
            "--flask-cors",
            version,
            "--envs",
            str(tmp_path / "envs"),
            "--out",
            str(runs[version]),
        )
    diff = lab_cli("diff", str(runs["5.0.1"]), str(runs["6.0"]))
    assert diff.returncode == 1, diff.stdout + diff.stderr
    changed = [line for line in diff.stdout.splitlines() if line.startswith("CHANGED")]
    assert changed and all("/API/legacy" in line for line in changed), changed
    assert {line.rsplit("[", 1)[1].split("]")[0] for line in changed} == set(ENGINES)
    assert "NOT MEASURED" not in diff.stdout
