"""Assemble a real Flask app from a scenario, in the setup order the scenario gives.

Order matters to the claims under test (for example "CORS(app) must be called
before the routes are defined"), so each step runs exactly where the scenario
puts it: `cors`, `hooks`, `routes`, `blueprints`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, Mapping

import flask
from flask import Flask

from ..scenario.model import Backend, Blueprint, Route, Scenario
from .hooks import install_error_handler, install_hook
from .template import fill
from .views import make_view


class BackendBuildError(Exception):
    """The scenario's backend could not be built with the installed Flask / flask-cors."""


def _add_route(target: Any, route: Route, origins: Mapping[str, str], stopping: threading.Event, index: int) -> None:
    view = make_view(route, origins, stopping)
    view.__name__ = f"route_{index}"
    methods = list(route.methods)
    options: Dict[str, Any] = {}
    if route.preflight is not None:
        methods = sorted(set(methods) | {"OPTIONS"})
        options["provide_automatic_options"] = False
    if route.cross_origin is not None:
        from flask_cors import cross_origin

        view = cross_origin(**fill(route.cross_origin, origins))(view)
    target.add_url_rule(route.path, endpoint=f"route_{index}", view_func=view, methods=methods, **options)


def _build_blueprints(
    backend: Backend, origins: Mapping[str, str], stopping: threading.Event
) -> Dict[str, flask.Blueprint]:
    """Create every blueprint with its routes and CORS, and nest children into parents."""
    made: Dict[str, flask.Blueprint] = {}
    for bp in backend.blueprints:
        blueprint = flask.Blueprint(bp.name, __name__)
        for index, route in enumerate(bp.routes):
            _add_route(blueprint, route, origins, stopping, index)
        if bp.cors is not None:
            from flask_cors import CORS

            CORS(blueprint, **fill(bp.cors, origins))
        made[bp.name] = blueprint
    for bp in _children_first(backend.blueprints):
        if bp.parent is not None:
            made[bp.parent].register_blueprint(made[bp.name], **_prefix(bp))
    return made


def _children_first(blueprints: Any) -> list:
    """Deepest blueprints first, so a child is inside its parent before the parent is registered."""
    parents = {bp.name: bp.parent for bp in blueprints}

    def depth(bp: Blueprint) -> int:
        level, parent = 0, bp.parent
        while parent is not None:
            level, parent = level + 1, parents.get(parent)
        return level

    return sorted(blueprints, key=depth, reverse=True)


def _prefix(bp: Blueprint) -> Dict[str, str]:
    return {"url_prefix": bp.url_prefix} if bp.url_prefix is not None else {}


# One build at a time in a process. Werkzeug compiles each URL rule's builder with `ast` and `compile()`, and CPython
# before 3.11.8 / 3.12.1 can fail when threads do that together ("SystemError: AST constructor recursion depth
# mismatch": one scenario in a 30,000-cell run, built by the WebKit worker while the others built theirs).
_BUILDING = threading.Lock()


def build_app(scenario: Scenario, origins: Mapping[str, str], stopping: threading.Event) -> Flask:
    """Build the scenario's described Flask app; any failure becomes BackendBuildError with the exception text.
    (The user's own app is never built in the lab's processes: lab/backend/hosted.py serves it.)"""
    if scenario.backend.app is not None:
        raise BackendBuildError(f"{scenario.backend.app.text} is the user's own app: it is served by its own host")
    try:
        with _BUILDING:
            return _build(scenario.backend, origins, stopping, scenario.id)
    except Exception as exc:  # the installed flask / flask-cors decide what fails here
        raise BackendBuildError(f"{type(exc).__name__}: {exc}") from exc


def _build(backend: Backend, origins: Mapping[str, str], stopping: threading.Event, name: str) -> Flask:
    app = Flask(f"cors_lab_backend_{abs(hash(name))}")
    app.logger.disabled = True
    app.config.update(fill(backend.config, origins))
    blueprints = _build_blueprints(backend, origins, stopping) if backend.blueprints else {}
    steps: Dict[str, Callable[[], None]] = {
        "cors": lambda: _apply_cors(app, backend, origins),
        "hooks": lambda: [install_hook(app, hook, origins) for hook in backend.hooks],
        "routes": lambda: [_add_route(app, r, origins, stopping, i) for i, r in enumerate(backend.routes)],
        "blueprints": lambda: [
            app.register_blueprint(blueprints[bp.name], **_prefix(bp)) for bp in backend.blueprints if bp.parent is None
        ],
    }
    for step in backend.order:
        steps[step]()
    for handler in backend.error_handlers:
        install_error_handler(app, handler, origins)
    return app


def _apply_cors(app: Flask, backend: Backend, origins: Mapping[str, str]) -> None:
    if backend.cors is None:
        return
    from flask_cors import CORS

    options = fill(backend.cors, origins)
    if backend.cors_init == "init_app":
        CORS().init_app(app, **options)
    else:
        CORS(app, **options)


logging.getLogger("werkzeug").setLevel(logging.ERROR)
