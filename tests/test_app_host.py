"""Real apps as users have them, each served from a host process in its own environment (lab/backend/hosted.py).

The projects here do what the public apps that broke the in-process design do:
SQLAlchemy models and `db = SQLAlchemy()` at module level (built twice in one
process it raises "Table ... is already defined"), a requirements file pinning
`greenlet==3.0.3` (the lab's own dependencies refuse it), configuration read at
import time, a database created by a `setup` command, a factory that takes a
config name, a module-level app behind ProxyFix and DispatcherMiddleware with a
`.flaskenv`, and a project virtualenv without any of the lab's packages.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List

import pytest

from lab.browsers.base import Candidate
from lab.pins import InterpreterNotFound, find_interpreter, uv_binary
from lab.scenario import load_file
from tests.conftest import ENGINES, lab_cli

STORE = """
import os
from flask import Flask, jsonify
from flask_cors import CORS
from flask_sqlalchemy import SQLAlchemy

FRONTEND_URL = os.environ["FRONTEND_URL"]  # read at import, as real apps read their settings
db = SQLAlchemy()  # module-level state: a second build in one process fails


class Item(db.Model):
    __tablename__ = "items"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(40))


class Config:
    SQLALCHEMY_DATABASE_URI = os.environ["DATABASE_URL"]


class TestingConfig(Config):
    SECRET_KEY = os.environ["SECRET_KEY"]


def create_app(config_name="production"):
    app = Flask(__name__)
    app.config.from_object({"testing": TestingConfig}.get(config_name, Config))
    db.init_app(app)
    CORS(app, resources={r"/api/*": {"origins": [FRONTEND_URL]}}, supports_credentials=True)

    @app.get("/api/items/<int:item_id>")
    def item(item_id):
        found = db.session.get(Item, item_id)  # the table exists only if the setup created it
        return jsonify(id=item_id, name=found.name if found else None, config=config_name)

    @app.post("/api/items")
    def create():
        return jsonify(created=True), 201

    return app
"""

SEED = """
from store.app import Item, create_app, db

app = create_app()
with app.app_context():
    db.create_all()
    db.session.add(Item(id=1, name="kettle"))
    db.session.commit()
"""

STORE_SCENARIO = """
title = "A store with module-level SQLAlchemy state, its own pins and a database to create"
[origins]
app = "https://store.example.com"
other = "https://other.example.net"
api = "https://api.store.example.com"

[backend]
app = "store.app:create_app('testing')"
project = "project"
setup = "python seed.py"
env = { FRONTEND_URL = "{app}", DATABASE_URL = "sqlite:///{tmp}/store.db", SECRET_KEY = "{secret}" }

[[cases]]
name = "GET an item from the store, with credentials"
path = "/api/items/1"
credentials = "include"
expect = "allowed"

[[cases]]
name = "POST an item (JSON) from the store"
path = "/api/items"
method = "POST"
headers = { Content-Type = "application/json" }
body = '{"name": "x"}'
credentials = "include"
expect = "allowed"

[[cases]]
name = "GET an item from another site"
page = "other"
path = "/api/items/1"
expect = "blocked"
"""

GATEWAY = """
import os
from flask import Blueprint, Flask, jsonify
from flask_cors import CORS
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

api = Blueprint("api", __name__)


@api.get("/orders/<int:order_id>")
def order(order_id):
    return jsonify(id=order_id)


inner = Flask("orders")
inner.register_blueprint(api, url_prefix="/v1")
CORS(inner, origins=[os.environ["FRONTEND_URL"]])  # from .flaskenv, as `flask run` loads it

front = Flask(__name__)


@front.get("/health")
def health():
    return "ok"


app = ProxyFix(DispatcherMiddleware(front, {"/orders-api": inner}), x_for=1)  # module-level, wrapped twice
"""

GATEWAY_SCENARIO = """
title = "A module-level app behind ProxyFix and DispatcherMiddleware, configured by .flaskenv"
[origins]
app = "https://shop.example.com"
api = "https://gateway.example.com"

[backend]
app = "gateway:app"
project = "project"

[[cases]]
name = "GET an order through the mounted API"
path = "/orders-api/v1/orders/7"
expect = "allowed"

[[cases]]
name = "GET the front app's health"
path = "/health"
expect = "blocked"
"""


def _project(folder: Path, files: Dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return folder


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("store")
    _project(
        folder / "project",
        {
            "store/__init__.py": "",
            "store/app.py": STORE,
            "seed.py": SEED,
            # Pins the lab's own dependencies refuse (the lab needs greenlet>=3.1 through Playwright).
            "requirements.txt": "flask==3.1.2\nflask-cors==6.0.1\nflask-sqlalchemy==3.1.1\nsqlalchemy==2.0.36\ngreenlet==3.0.3\n",
        },
    )
    (folder / "store.toml").write_text(STORE_SCENARIO)
    return folder / "store.toml"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gateway")
    _project(
        folder / "project",
        {
            "gateway.py": GATEWAY,
            ".flaskenv": "FRONTEND_URL=https://shop.example.com\n",
            "requirements.txt": "flask>=3\nflask-cors>=5\npython-dotenv>=1\n",
        },
    )
    (folder / "gateway.toml").write_text(GATEWAY_SCENARIO)
    return folder / "gateway.toml"


def _run(scenario: Path, out: Path, *extra: str) -> List[Dict]:
    done = lab_cli("run", str(scenario), "--out", str(out), "--envs", str(scenario.parent / "envs"), *extra)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text())["results"]


def test_module_level_state_pinned_greenlet_and_a_setup_run_in_every_engine_at_once(
    store: Path, browsers: List[Candidate], tmp_path: Path
) -> None:
    rows = _run(store, tmp_path / "store.json")
    assert {r["browser"] for r in rows} == set(ENGINES) and len(rows) == 3 * len(ENGINES)
    assert all(r["matched"] and r["outcome"] in ("allowed", "blocked") for r in rows), [
        (r["case"], r["browser"], r["outcome"], r["reason"]) for r in rows if not r["matched"]
    ]
    items = [r for r in rows if r["case"].startswith("GET an item from the store")]
    # The seeded row is there (the setup ran, in the app's environment, with {tmp}) and the factory got 'testing'.
    for row in items:
        assert row["status"] == 200 and row["exchanges"][-1]["request_headers"]["Host"] == "api.store.example.com"


def test_scan_writes_what_a_second_run_measures(store: Path, browsers: List[Candidate], tmp_path: Path) -> None:
    scanned = tmp_path / "store-scan.toml"
    done = lab_cli(
        "scan",
        "store.app:create_app('testing')",
        "--project",
        str(store.parent / "project"),
        "--origin",
        "https://store.example.com",
        "--api",
        "https://api.store.example.com",
        "--env",
        "FRONTEND_URL={app}",
        "--env",
        "DATABASE_URL=sqlite:///{tmp}/store.db",
        "--env",
        "SECRET_KEY={secret}",
        "--setup",
        "python seed.py",
        "--out",
        str(scanned),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "NOT MEASURED" not in done.stdout and "no attacker page could read a credentialed response" in done.stdout
    scenario, problems = load_file(scanned)
    assert scenario is not None and not problems and scenario.backend.setup == "python seed.py"
    written = {case.name: case for case in scenario.cases}
    assert written["GET /api/items/1 from app with credentials"].expect == "allowed"
    assert all(c.expect == "blocked" for c in scenario.cases if c.attacker)
    lab_cli("run", str(scanned), "--out", str(tmp_path / "again.json"))
    again = json.loads((tmp_path / "again.json").read_text())["results"]
    assert len(again) == len(scenario.cases) * len(ENGINES)
    assert all(r["outcome"] == r["expected"] and r["matched"] for r in again), [
        (r["case"], r["browser"], r["outcome"], r["expected"]) for r in again if not r["matched"]
    ]


def test_a_module_level_app_behind_middleware_with_a_flaskenv(
    gateway: Path, browsers: List[Candidate], tmp_path: Path
) -> None:
    rows = _run(gateway, tmp_path / "gateway.json")
    assert len(rows) == 2 * len(ENGINES) and all(r["matched"] for r in rows), [
        (r["case"], r["browser"], r["outcome"], r["reason"]) for r in rows if not r["matched"]
    ]
    scanned = tmp_path / "gateway-scan.toml"
    done = lab_cli(
        "scan",
        "gateway:app",
        "--project",
        str(gateway.parent / "project"),
        "--origin",
        "https://shop.example.com",
        "--api",
        "https://gateway.example.com",
        "--browser",
        "chromium",
        "--out",
        str(scanned),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    scenario, _ = load_file(scanned)
    assert scenario is not None
    paths = {case.path for case in scenario.cases}
    assert paths == {"/health", "/orders-api/v1/orders/1"}  # the mounted app's routes, with their prefixes


@pytest.fixture(scope="module")
def own_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with a virtualenv of its own that has Flask and flask-cors and none of the lab's packages, on the
    oldest Python the host must run on (3.9, where this machine has it)."""
    folder = tmp_path_factory.mktemp("venv-project")
    _project(
        folder,
        {
            "api.py": """
        from flask import Flask
        from flask_cors import cross_origin

        app = Flask(__name__)


        @app.get("/public")
        @cross_origin()
        def public():
            return "hello"


        @app.get("/private")
        def private():
            return "secret"
        """
        },
    )
    try:
        python = find_interpreter("3.9")
    except InterpreterNotFound:
        python = sys.executable
    uv = uv_binary()
    if uv:
        subprocess.run([uv, "venv", "--quiet", "--python", python, str(folder / "env")], check=True)
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(folder / "env" / "bin" / "python"),
                "flask",
                "flask-cors",
            ],
            check=True,
        )
    else:
        subprocess.run([python, "-m", "venv", str(folder / "env")], check=True)
        subprocess.run(
            [str(folder / "env" / "bin" / "python"), "-m", "pip", "install", "--quiet", "flask", "flask-cors"],
            check=True,
        )
    return folder


def test_scan_with_the_projects_own_python_that_lacks_the_labs_dependencies(
    own_venv: Path, browsers: List[Candidate], tmp_path: Path
) -> None:
    python = own_venv / "env" / "bin" / "python"
    lacking = subprocess.run([str(python), "-c", "import playwright"], capture_output=True, text=True)
    assert lacking.returncode != 0  # the app's environment has none of the lab's packages
    scanned = tmp_path / "api-scan.toml"
    done = lab_cli(
        "scan",
        "api:app",
        "--project",
        str(own_venv),
        "--python",
        str(python),
        "--origin",
        "https://app.example.com",
        "--browser",
        "chromium",
        "--browser",
        "firefox",
        "--out",
        str(scanned),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    scenario, problems = load_file(scanned)
    assert scenario is not None and not problems and scenario.backend.python == str(python)
    written = {case.name: case.expect for case in scenario.cases}
    assert written["GET /public from attacker"] == "allowed" and written["GET /private from app"] == "blocked"
    version = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True
    ).stdout.strip()
    assert f"the app's Python {version}," in scanned.read_text()  # the host ran on the venv's own Python


FRAGILE = """
import os
from flask import Flask
from flask_cors import CORS

app = Flask(__name__)
CORS(app, supports_credentials=True)


@app.get("/a")
def a():
    return "a"


@app.get("/die")
def die():
    os._exit(3)  # the host dies mid-run: every cell after this one cannot be measured
"""


def test_the_all_clear_cannot_lie(tmp_path: Path, browsers: List[Candidate]) -> None:
    project = _project(tmp_path / "fragile", {"fragile.py": FRAGILE, "broken.py": "raise RuntimeError('no config')\n"})
    refused = lab_cli(
        "scan",
        "broken:app",
        "--project",
        str(project),
        "--origin",
        "https://app.example.com",
        "--browser",
        "chromium",
        "--out",
        str(tmp_path / "broken.toml"),
    )
    assert refused.returncode == 2 and "RuntimeError: no config" in refused.stderr, refused.stdout + refused.stderr
    assert "no attacker page" not in refused.stdout and not (tmp_path / "broken.toml").exists()

    scanned = tmp_path / "fragile.toml"
    done = lab_cli(
        "scan",
        "fragile:app",
        "--project",
        str(project),
        "--origin",
        "https://app.example.com",
        "--browser",
        "chromium",
        "--out",
        str(scanned),
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "no attacker page could read a credentialed response" not in done.stdout
    assert "NOT MEASURED" in done.stdout
    scenario, problems = load_file(scanned)
    assert scenario is not None and not problems
    dying = [c for c in scenario.cases if c.path == "/die"]
    assert dying and all(c.expect == "error" for c in dying)  # never `blocked`: the host died, nothing refused
    assert "# not measured when scanned:" in scanned.read_text()


OUTBOUND = """
import socket
import urllib.request
from flask import Flask
from flask_cors import CORS

app = Flask(__name__)
CORS(app, expose_headers=["X-Refusal"])


@app.get("/charge")
def charge():
    if socket.getaddrinfo.__module__ == "socket":  # not confined: never try (no test lets a lookup escape)
        return "unconfined", 200, {"X-Refusal": "unconfined"}
    try:  # a payment provider: the host refuses the lookup before any packet leaves
        urllib.request.urlopen("http://payments.example.com/charge", timeout=2)
    except OSError as exc:
        said = "cors-lab" if "outside loopback" in str(exc) else "other"
        return "refused", 200, {"X-Refusal": said}
    return "reached", 200, {"X-Refusal": "none"}


@app.get("/local")
def local():  # loopback stays reachable (a database or cache on this machine)
    socket.getaddrinfo("127.0.0.1", 80)
    socket.getaddrinfo("localhost", 80)
    return "ok", 200, {"X-Refusal": "none"}
"""

OUTBOUND_SCENARIO = """
title = "The app under test reaches nothing outside loopback"
[origins]
app = "https://shop.example.com"
api = "https://api.shop.example.com"

[backend]
app = "outbound:app"
project = "project"

[[cases]]
name = "a route that calls a payment provider"
path = "/charge"
read_headers = ["X-Refusal"]
expect = "allowed"

[[cases]]
name = "a route that looks up loopback names"
path = "/local"
read_headers = ["X-Refusal"]
expect = "allowed"
"""


def test_the_app_reaches_nothing_outside_loopback(tmp_path: Path, browsers: List[Candidate]) -> None:
    _project(tmp_path / "project", {"outbound.py": OUTBOUND})
    (tmp_path / "outbound.toml").write_text(OUTBOUND_SCENARIO)
    rows = _run(tmp_path / "outbound.toml", tmp_path / "outbound.json", "--browser", "chromium")
    said = {r["case"]: (r["status"], r["read_headers"].get("X-Refusal")) for r in rows}
    assert said == {
        "a route that calls a payment provider": (200, "cors-lab"),
        "a route that looks up loopback names": (200, "none"),
    }, said


def test_a_setup_that_fails_makes_the_cells_errors_with_its_output(tmp_path: Path, browsers: List[Candidate]) -> None:
    _project(tmp_path / "project", {"outbound.py": OUTBOUND})
    (tmp_path / "failing.toml").write_text(
        OUTBOUND_SCENARIO.replace(
            'project = "project"', 'project = "project"\nsetup = "echo no database server here >&2; exit 3"'
        )
    )
    out = tmp_path / "failing.json"
    done = lab_cli("run", str(tmp_path / "failing.toml"), "--out", str(out), "--browser", "chromium")
    assert done.returncode == 1, done.stdout + done.stderr
    rows = json.loads(out.read_text())["results"]
    assert {r["outcome"] for r in rows} == {"error"} and not any(r["matched"] for r in rows)
    assert all("failed (exit 3): no database server here" in r["reason"] for r in rows), rows[0]["reason"]
