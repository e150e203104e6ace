"""The `cors_lab` fixture: CORS checks written in Python, in the same browsers as the scenario files.

`cors_lab.fetch(app, "https://api.example.com/items", page="https://app.example.com",
credentials="include")` serves a Flask app object (or any WSGI app) at that origin,
fetches from a page at the other one, and returns the result row the lab writes.
`cors_lab.run("cors_api.toml")` runs a scenario file's cases. A test that uses the
fixture runs once per browser (`--browser`), like pytest-playwright's `page`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union
from urllib.parse import urlsplit

from ..backend.pinned import LocalBackends
from ..backend.recorder import WSGIApp
from ..results import ResultRow
from ..scenario.load import ScenarioError, load_file, load_scenarios
from ..scenario.model import Backend, Scenario
from .sessions import Sessions


class _ObjectBackends:
    """The app object a test hands over, served as it is (with the Flask and flask-cors installed here)."""

    def __init__(self, app: WSGIApp) -> None:
        local = LocalBackends()
        self.label, self.versions, self.error = local.label, local.versions, None
        self.app = app

    def build(self, slot: str, scenario: Scenario, origins: Mapping[str, str], stopping: threading.Event) -> WSGIApp:
        return self.app


def _toml(value: Any) -> str:
    """A TOML value: JSON's strings, numbers, booleans and arrays are TOML too."""
    return json.dumps(value)


class CorsLab:
    """What the `cors_lab` fixture gives a test: this worker's browsers, one of them the test's (`browser`)."""

    def __init__(self, sessions: Sessions, browser: str, folder: Path) -> None:
        self.sessions = sessions
        self.browser = browser
        self._folder = folder
        self._count = itertools.count(1)

    def run(self, path: Union[str, Path], case: Optional[str] = None) -> List[ResultRow]:
        """The rows of a scenario file's cases (or the one named `case`) in this test's browser."""
        scenarios = load_scenarios([Path(path)])
        rows = []
        for scenario in scenarios:
            cases = [c for c in scenario.cases if case is None or c.name == case]
            for pin in self.sessions.pin_ids():
                backend = self.sessions.backend(pin)
                rows += self.sessions.on_thread(
                    self.browser, lambda session, s=scenario, b=backend, c=cases: session.measure(s, b, c)
                )
        if case is not None and not rows:
            raise ValueError(f"{path}: no case named {case!r}")
        return rows

    def fetch(
        self,
        app: WSGIApp,
        url: str,
        *,
        page: str = "http://app.localhost",
        method: str = "GET",
        headers: Optional[Dict[str, str]] = None,
        body: Optional[str] = None,
        credentials: str = "same-origin",
        mode: str = "cors",
        redirect: str = "follow",
        read_headers: Sequence[str] = (),
        sandboxed: bool = False,
        expect: str = "allowed",
    ) -> ResultRow:
        """Serve `app` at `url`'s origin, fetch `url` from a page at `page` in this test's browser, and return the row:
        outcome, status, preflight(s), readable headers, and every exchange the server saw. `expect` only sets the
        row's `matched`."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"url {url!r}: expected an absolute http(s) URL such as https://api.example.com/items")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        case: Dict[str, Any] = {
            "name": "fetch",
            "page": "page",
            "target": "api",
            "path": path,
            "method": method,
            "credentials": credentials,
            "mode": mode,
            "redirect": redirect,
            "sandboxed": sandboxed,
            "read_headers": list(read_headers),
            "expect": expect,
        }
        if body is not None:
            case["body"] = body
        lines = [
            'title = "cors_lab.fetch"',
            "[origins]",
            f"page = {_toml(page)}",
            f"api = {_toml(f'{parts.scheme}://{parts.netloc}')}",
            "[backend]",
            'app = "the_test_s:app"',
            "[[cases]]",
        ]
        lines += [f"{key} = {_toml(value)}" for key, value in case.items()]
        if headers:
            lines += ["[cases.headers]"] + [f"{_toml(k)} = {_toml(v)}" for k, v in headers.items()]
        # Written out so that a mistake is reported against a file the test's author can open.
        file = self._folder / f"fetch-{next(self._count)}.toml"
        file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        scenario, problems = load_file(file, f"cors_lab/{file.stem}")
        if scenario is None:
            raise ScenarioError(problems)
        scenario = dataclasses.replace(scenario, backend=Backend())
        backend = _ObjectBackends(app)
        rows = self.sessions.on_thread(self.browser, lambda session: session.measure(scenario, backend))
        return rows[0]
