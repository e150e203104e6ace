"""`[backend]`: the Flask app a scenario describes, or (`app = ...`) the user's own application."""

from __future__ import annotations

import os
from typing import Any, Dict

from ..apptarget import AppTargetError, parse_app_target
from ..locate import KeyPath
from ..model import Backend
from ..versions import problem as version_problem
from .blueprints import read_blueprints
from .checker import Checker
from .cors import read_cors_options
from .hooks import read_error_handlers, read_hooks
from .routes import read_routes

FLASK_CONFIG_KEYS = ("SECRET_KEY", "PROVIDE_AUTOMATIC_OPTIONS", "SERVER_NAME", "TRUSTED_HOSTS")
"""Flask settings besides CORS_* and SESSION_* that change what a browser sees (see scenarios/flask)."""
SETUP_STEPS = ("cors", "hooks", "routes", "blueprints")
DESCRIBED_KEYS = ("config", "cors", "cors_init", "order", "routes", "blueprints", "hooks", "error_handlers")
"""The keys that describe a backend, which an `app` backend (the user's own) cannot have."""


def read_backend(check: Checker, raw: Any) -> Backend:
    """A described backend needs at least one route; raw routes answer with exactly their headers, so no [backend.cors]."""
    where: KeyPath = ("backend",)
    keys = (
        "config",
        "cors",
        "cors_init",
        "order",
        "routes",
        "blueprints",
        "hooks",
        "error_handlers",
        "proxy_headers",
        "start_error",
        "app",
        "project",
        "env",
        "requirements",
        "python",
        "setup",
    )
    table = check.table(raw, where, keys)
    if "app" in table:
        return _app_backend(check, table, where)
    for key in ("project", "env", "requirements", "python", "setup"):
        if key in table:
            check.fail(
                where + (key,), f'`{key}` is for your own application: it needs `app = "package.module:create_app()"`'
            )
    config = check.get(table, "config", where, dict, {})
    for key in config:
        if not key.startswith(("CORS_", "SESSION_")) and key not in FLASK_CONFIG_KEYS:
            check.fail(
                where + ("config", key),
                f"config key {key!r} is not a CORS_* or SESSION_* setting nor one of {', '.join(FLASK_CONFIG_KEYS)}",
            )
    order = check.strings(table, "order", where, SETUP_STEPS)
    if sorted(order) != sorted(SETUP_STEPS):
        check.fail(where + ("order",), f"order must list each of {', '.join(SETUP_STEPS)} exactly once")
        order = SETUP_STEPS
    backend = Backend(
        config=config,
        cors=read_cors_options(check, table["cors"], where + ("cors",)) if "cors" in table else None,
        cors_init=check.get(table, "cors_init", where, str, "constructor", ("constructor", "init_app")),
        order=order,
        routes=read_routes(check, table, where),
        blueprints=read_blueprints(check, table.get("blueprints", []), where + ("blueprints",)),
        hooks=read_hooks(check, table.get("hooks", []), where + ("hooks",)),
        error_handlers=read_error_handlers(check, table.get("error_handlers", []), where + ("error_handlers",)),
        proxy_headers=check.headers(table, "proxy_headers", where),
        start_error=_start_error(check, table, where),
    )
    if backend.cors is not None:
        for i, route in enumerate(backend.routes):
            if route.raw:
                check.fail(
                    where + ("routes", i, "raw"),
                    "raw routes answer with exactly their headers; they cannot be combined with [backend.cors], which adds headers",
                )
    if not backend.routes and not any(bp.routes for bp in backend.blueprints):
        check.fail(where, "the backend declares no routes: add [[backend.routes]] or blueprint routes")
    return backend


def _app_backend(check: Checker, table: Dict[str, Any], where: KeyPath) -> Backend:
    """`app = "package.module:create_app()"`: the user's own application, with its project folder and environment."""
    mixed = [key for key in DESCRIBED_KEYS if key in table]
    for key in mixed:
        check.fail(
            where + (key,),
            f"`{key}` describes a backend, but `app` names your own application, whose routes,"
            " hooks and CORS setup are its own: remove one of them",
        )
    target = None
    text = check.get(table, "app", where, str)
    if text is not None:
        try:
            target = parse_app_target(text)
        except AppTargetError as exc:
            check.fail(where + ("app",), str(exc))
    project_text = check.get(table, "project", where, str)
    project = (check.path.parent / project_text).resolve() if project_text is not None else None
    if project is not None and not project.is_dir():
        check.fail(where + ("project",), f"project = {project_text!r}: no such folder ({project})")
    env = check.get(table, "env", where, dict, {})
    for name, value in env.items():
        if not isinstance(value, str):
            check.fail(where + ("env", name), f'env {name} must be a string (placeholders such as "{{app}}" allowed)')
    python = check.get(table, "python", where, str)
    if python is not None:
        # Absolute, not resolved: a virtualenv's python is a symlink, and its own path is what selects the venv.
        python = os.path.abspath(check.path.parent / python) if "/" in python else python
    setup = check.get(table, "setup", where, str)
    if setup is not None and not setup.strip():
        check.fail(where + ("setup",), 'setup must be a command, such as "flask db upgrade"')
    return Backend(
        app=target,
        project=project,
        env={k: v for k, v in env.items() if isinstance(v, str)},
        requirements=check.strings(table, "requirements", where),
        python=python,
        setup=setup,
        proxy_headers=check.headers(table, "proxy_headers", where),
        start_error=_start_error(check, table, where),
    )


def _start_error(check: Checker, table: Dict[str, Any], where: KeyPath) -> Dict[str, str]:
    """`start_error = { "flask-cors>=6.0.5" = "Invalid regular expression" }`: releases under which the app must refuse
    to start, with a piece of the error it must raise."""
    raw = check.get(table, "start_error", where, dict, {})
    kept = {}
    for condition, text in raw.items():
        wrong = version_problem(condition)
        if wrong:
            check.fail(where + ("start_error", condition), f"start_error: {wrong}")
        elif not isinstance(text, str) or not text.strip():
            check.fail(
                where + ("start_error", condition),
                "start_error: the value must be a piece of the expected error"
                ' message, such as "Invalid regular expression"',
            )
        else:
            kept[condition] = text
    return kept
