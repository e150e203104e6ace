"""Import the user's own Flask app (`[backend] app = "package.module:create_app()"`), unmodified.

The project folder goes first on `sys.path` and the scenario's `env` is set while
the app is imported and built, because real apps read their configuration
(`FRONTEND_URL`, `DATABASE_URL`) from the environment at import or factory time.
Modules from the project are imported afresh for every build, so that two
scenarios with different environments never share a module-level app.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

from ..scenario.model import Backend
from .template import fill


class UserAppError(Exception):
    """The app could not be imported or built; the message ends with the app's own traceback lines."""


LAB_PACKAGE = Path(__file__).resolve().parent.parent
KEEP = tuple({LAB_PACKAGE, Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()})
"""Never forgotten, even when the project folder holds them (the lab's own code, a virtualenv inside the project)."""


def _forget_project_modules(project: Path) -> None:
    for name, module in list(sys.modules.items()):
        location = getattr(module, "__file__", None)
        if not location:
            continue
        path = Path(location).resolve()
        if path.is_relative_to(project) and not any(path.is_relative_to(kept) for kept in KEEP):
            del sys.modules[name]


def _traceback_tail(exc: BaseException, lines: int = 4) -> str:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:])


def build_user_app(backend: Backend, origins: Mapping[str, str], default_project: Optional[Path] = None) -> Any:
    """The app object the scenario names, imported from its project with its environment set."""
    assert backend.app is not None
    with _BUILDING:  # the environment and sys.path are the process's: one build at a time (browsers build in parallel)
        return _build(backend, origins, default_project)


_BUILDING = threading.Lock()


def _build(backend: Backend, origins: Mapping[str, str], default_project: Optional[Path]) -> Any:
    assert backend.app is not None
    project = (backend.project or default_project or Path.cwd()).resolve()
    environment: Dict[str, str] = {name: fill(value, origins) for name, value in backend.env.items()}
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    sys.path.insert(0, str(project))
    try:
        _forget_project_modules(project)
        module = importlib.import_module(backend.app.module)
        target = getattr(module, backend.app.attribute)
        app = target(*backend.app.args, **backend.app.kwargs) if backend.app.call else target
    except Exception as exc:
        raise UserAppError(f"{backend.app.text} (from {project}): {_traceback_tail(exc)}") from exc
    finally:
        sys.path.remove(str(project))
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if not callable(app):
        raise UserAppError(f"{backend.app.text} is {type(app).__name__}, not a Flask app (a WSGI callable)")
    return app
