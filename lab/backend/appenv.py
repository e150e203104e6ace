"""Which interpreter runs the user's own app when no pin says: the app's environment, never the lab's by default.

In this order: `[backend] python` (or `--python` on the command line); the
project's own `.venv` or `venv`, used as it is (nothing is installed into it); an
environment the lab builds from the project's requirements, cached like pin
environments; the lab's own interpreter only when the project declares no
requirements at all. Real apps pin their transitive dependencies
(`greenlet==3.0.3`) and the lab's own dependencies would refuse them, so the two
never share an environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from filelock import FileLock

from ..pins import ENVS_DIR, InterpreterNotFound, app_requirements, find_interpreter, install_env


class AppEnvError(Exception):
    """No interpreter for the app: a `python` that is not there, or an environment that could not be built."""


@dataclass(frozen=True)
class AppInterpreter:
    """The interpreter and where it came from, for the user to read."""

    python: str
    source: str


def project_venv(project: Path) -> Optional[str]:
    """The project's own virtualenv interpreter (`.venv` first, then `venv`), if it has one."""
    for name in (".venv", "venv"):
        for candidate in (project / name / "bin" / "python", project / name / "Scripts" / "python.exe"):
            if candidate.is_file():
                return str(candidate)
    return None


def app_interpreter(
    project: Path, python: Optional[str], requirements: Sequence[str], envs: Path = ENVS_DIR
) -> AppInterpreter:
    """The interpreter that runs the app (see the module's docstring for the order)."""
    if python:
        return AppInterpreter(_usable(python), "python = " + python)
    own = project_venv(project)
    if own:
        return AppInterpreter(own, f"the project's {Path(own).parent.parent.name}")
    needed = app_requirements(requirements, project)
    if needed:
        return AppInterpreter(ensure_app_env(needed, envs), "built from the project's requirements")
    return AppInterpreter(sys.executable, "the lab's own (the project declares no requirements)")


def _usable(python: str) -> str:
    path = Path(python)
    if os.sep in python or path.is_file():
        if not path.is_file():
            raise AppEnvError(f"python = {python!r}: no such interpreter")
        return str(path.absolute())  # not resolved: a venv's python is a symlink, and its path selects the venv
    try:
        return find_interpreter(python)  # a version such as "3.9"
    except InterpreterNotFound as exc:
        raise AppEnvError(str(exc)) from exc


def ensure_app_env(requirements: Sequence[str], envs: Path = ENVS_DIR) -> str:
    """An environment with exactly the app's requirements (none of the lab's), made once and reused."""
    wanted = sorted(set(requirements))
    digest = hashlib.sha1(json.dumps([wanted, sys.version_info[:2]]).encode()).hexdigest()[:10]
    directory = (envs / f"app-{digest}").resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    python = directory / "bin" / "python"
    marker = directory / "cors-lab-ready.json"
    with FileLock(str(directory) + ".lock"):
        if marker.exists() and python.exists():
            return str(python)
        error = install_env(directory, sys.executable, wanted)
        if error:
            raise AppEnvError(f"could not install the app's requirements ({', '.join(wanted)}): {error}")
        marker.write_text(json.dumps({"requirements": wanted}))
    return str(python)
