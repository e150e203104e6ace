"""cors-lab as a pytest plugin (the `pytest11` entry point `cors_lab`: installing cors-lab is enough).

- `pytest cors_api.toml` runs that scenario file; files named `cors_*.toml` or `test_*.toml` are collected from
  the folders pytest searches. One test per case and browser: `cors_api.toml::vite dev server reads[firefox]`.
- `--browser NAME` (repeatable, as pytest-playwright spells it; shared with it when both are installed),
  `--cors-lab-pins FILE` or `--flask` / `--flask-cors` for pins (`--cors-lab-envs DIR`), `--cors-lab-timeout S`.
- `pytest -n auto` (pytest-xdist): each worker launches each browser once.
- The `cors_lab` fixture (lab/plugin/fixture.py) for checks written in Python.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
from pathlib import Path
from typing import Any, Iterator, List, Optional

import pytest

from ..backend.pinned import LocalBackends
from ..browsers.base import BrowserUnavailable
from ..browsers.drivers import DriverChoiceError, parse_driver_choice
from ..pins import ENVS_DIR, choose_pins
from ..scenario.load import ScenarioError
from .fixture import CorsLab
from .items import SESSIONS, CaseItem, ScenarioFile
from .sessions import Sessions

__all__ = ["CaseItem", "CorsLab", "ScenarioFile"]

COLLECTED = ("cors_*.toml", "test_*.toml")


def _playwright_owns_browser_option(pluginmanager: Any) -> bool:
    """pytest-playwright defines `--browser` too; when it is installed and not disabled, both share its option."""
    return (
        importlib.util.find_spec("pytest_playwright") is not None
        and not pluginmanager.is_blocked("playwright")
        and not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    )


def pytest_addoption(parser: pytest.Parser, pluginmanager: Any) -> None:
    group = parser.getgroup("cors-lab", "CORS scenarios in real browsers (cors-lab)")
    if not _playwright_owns_browser_option(pluginmanager):
        try:
            group.addoption(
                "--browser",
                action="append",
                default=[],
                metavar="NAME",
                help="chromium, firefox or webkit; repeatable (default: every browser found)",
            )
        except ValueError:  # another plugin already defines it (pytest-playwright loaded explicitly)
            pass
    group.addoption("--cors-lab-pins", type=Path, metavar="FILE", help="run every [[pin]] of a cors-lab pins file")
    group.addoption(
        "--flask",
        action="append",
        default=[],
        metavar="VERSION",
        help="cors-lab: Flask line or release to pin; repeatable",
    )
    group.addoption(
        "--flask-cors",
        action="append",
        default=[],
        metavar="VERSION",
        help="cors-lab: flask-cors line or release to pin; repeatable",
    )
    group.addoption(
        "--cors-lab-python", metavar="VERSION", help="cors-lab: the pins' Python (with --flask/--flask-cors)"
    )
    group.addoption(
        "--cors-lab-envs",
        type=Path,
        default=ENVS_DIR,
        metavar="DIR",
        help="cors-lab: where pin environments are kept (default .cors-lab/envs)",
    )
    group.addoption(
        "--cors-lab-driver",
        action="append",
        default=[],
        metavar="DRIVER|ENGINE=DRIVER",
        help="cors-lab: playwright or native (the lab's own clients), for every engine or one; repeatable",
    )
    group.addoption(
        "--cors-lab-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="cors-lab: per-case fetch timeout (default 10)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cors_lab: a cell of a cors-lab scenario file (a case in one browser)")
    try:
        pins = choose_pins(
            config.getoption("cors_lab_pins"),
            config.getoption("flask"),
            config.getoption("flask_cors"),
            config.getoption("cors_lab_python"),
            installed=LocalBackends().versions,
        )
        drivers = parse_driver_choice(config.getoption("cors_lab_driver"))
    except (ScenarioError, DriverChoiceError) as exc:
        raise pytest.UsageError(str(exc)) from exc
    browsers: List[str] = list(config.getoption("browser", default=None) or [])
    config.stash[SESSIONS] = Sessions(
        browsers, pins, config.getoption("cors_lab_timeout"), config.getoption("cors_lab_envs"), drivers
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    sessions = config.stash.get(SESSIONS, None)
    if sessions is not None:
        sessions.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Optional[ScenarioFile]:
    if file_path.suffix != ".toml":
        return None
    if parent.session.isinitpath(file_path) or any(fnmatch.fnmatch(file_path.name, p) for p in COLLECTED):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that uses `cors_lab` runs once per browser."""
    if "cors_lab" in metafunc.fixturenames:
        try:
            names = metafunc.config.stash[SESSIONS].browser_names()
        except BrowserUnavailable as exc:
            raise pytest.UsageError(str(exc)) from exc
        metafunc.parametrize("cors_lab_browser", names, scope="function")


@pytest.fixture(scope="session")
def _cors_lab_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cors_lab")


@pytest.fixture
def cors_lab(request: pytest.FixtureRequest, cors_lab_browser: str, _cors_lab_folder: Path) -> Iterator[CorsLab]:
    """This worker's browsers for checks written in Python; `cors_lab.browser` is the one this test runs in."""
    yield CorsLab(request.config.stash[SESSIONS], cors_lab_browser, _cors_lab_folder)
