"""The user's own app, served from a host process of its own (lab/apphost.py) in the app's own environment.

The lab's process never imports user code: real apps keep state in modules
(SQLAlchemy metadata, extension registries) and cannot be built twice in one
process, read their configuration at import, and pin dependencies the lab's own
would refuse. Each (interpreter, app, project, environment, setup) gets one host,
started on first use and shared by every browser; the recorder in the lab's
process tells their requests apart as it does for any backend.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..pins import output_tail
from ..scenario.model import Backend, Scenario
from .forward import forwarding_app
from .recorder import WSGIApp
from .template import fill

HOST_SOURCE = Path(__file__).resolve().parent.parent / "apphost.py"
START_TIMEOUT_S = 120.0  # an app that creates tables or warms caches at import
SETUP_TIMEOUT_S = 600.0


class AppHostError(Exception):
    """The app could not be served: its set-up failed, it did not import or build, or its host ended."""


HostKey = Tuple[str, str, str, Tuple[Tuple[str, str], ...], str]


@dataclass
class AppHost:
    """One running host: where it listens, what it runs with, and the routes its app declares."""

    python: str
    port: int = 0
    versions: Dict[str, str] = field(default_factory=dict)
    routes: List[Dict[str, Any]] = field(default_factory=list)
    error: Optional[str] = None
    process: Optional[subprocess.Popen[str]] = None
    folder: Optional[str] = None  # the `{tmp}` folder, removed at close

    def close(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            end_host(process)
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def end_host(process: subprocess.Popen[str]) -> None:
    """A host ends when its input closes (it serves until then); one that does not within 5 s is killed."""
    try:
        if process.stdin:
            process.stdin.close()
        process.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        process.kill()
        process.wait(timeout=5)


def app_environment(python: str, env: Mapping[str, str]) -> Dict[str, str]:
    """The process environment of the app's host and set-up: this one, with the app's interpreter's folder first on
    PATH (so `flask db upgrade` is the app's flask), its virtualenv active, and the scenario's `env` on top."""
    folder = str(Path(python).parent)
    merged = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")}
    merged["PATH"] = folder + os.pathsep + merged.get("PATH", "")
    if (Path(folder).parent / "pyvenv.cfg").is_file():
        merged["VIRTUAL_ENV"] = str(Path(folder).parent)
    merged.update(env)
    return merged


def start_host(python: str, backend: Backend, project: Path, env: Mapping[str, str]) -> AppHost:
    """Run the set-up, then start the host and wait for its first line; failures are kept in `error`, never raised."""
    assert backend.app is not None
    host = AppHost(python, folder=tempfile.mkdtemp(prefix="cors-lab-app-"))
    generated = {"tmp": host.folder, "secret": secrets.token_hex(32)}
    environment = app_environment(python, {name: fill(value, generated) for name, value in env.items()})
    if backend.setup:
        try:
            done = subprocess.run(
                backend.setup,
                shell=True,
                cwd=project,
                env=environment,
                capture_output=True,
                text=True,
                timeout=SETUP_TIMEOUT_S,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            host.error = f"setup `{backend.setup}` did not finish in {SETUP_TIMEOUT_S:.0f} s"
            return host
        if done.returncode != 0:
            host.error = f"setup `{backend.setup}` failed (exit {done.returncode}): {output_tail(done.stderr + done.stdout) or 'no output'}"
            return host
    target = backend.app
    request = {
        "project": str(project),
        "module": target.module,
        "attribute": target.attribute,
        "call": target.call,
        "args": list(target.args),
        "kwargs": dict(target.kwargs),
    }
    stderr = tempfile.TemporaryFile(mode="w+")
    try:
        host.process = subprocess.Popen(
            [python, "-c", HOST_SOURCE.read_text(encoding="utf-8"), json.dumps(request)],
            cwd=project,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
    except OSError as exc:
        host.error = f"cannot run {python}: {exc}"
        return host
    assert host.process.stdout is not None
    ready, _, _ = select.select([host.process.stdout], [], [], START_TIMEOUT_S)
    line = host.process.stdout.readline() if ready else ""
    answer = json.loads(line) if line.strip().startswith("{") else None
    if answer is None or not answer.get("ready"):
        stderr.seek(0)
        said = (
            answer["error"]
            if answer
            else (
                f"its host ended: {output_tail(stderr.read()) or 'no output'}"
                if ready
                else f"it did not start in {START_TIMEOUT_S:.0f} s"
            )
        )
        host.error = f"{target.text} (from {project}, with {python}): {said}"
        host.close()
        host.folder = None
        return host
    host.port, host.versions, host.routes = int(answer["port"]), answer["versions"], answer["routes"]
    return host


class AppHosts:
    """The hosts of one run, one per (interpreter, app, project, environment, set-up), started once and shared.

    `interpreter(backend)` says which Python runs an app (a pin's environment, or the app's own): it is asked once
    per host and may take time (an environment built from the requirements), or raise to say why there is none."""

    def __init__(self, interpreter: Callable[[Backend], str], timeout_s: float = 30.0) -> None:
        self.interpreter = interpreter
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._hosts: Dict[HostKey, AppHost] = {}
        self._starting: Dict[HostKey, threading.Lock] = {}

    def host(self, backend: Backend, origins: Mapping[str, str]) -> AppHost:
        """The app's running host, started now if this is the first ask (others asking at once wait for it)."""
        assert backend.app is not None
        project = (backend.project or Path.cwd()).resolve()
        env = {name: fill(value, origins) for name, value in backend.env.items()}
        key: HostKey = (
            backend.python or "",
            str(project),
            backend.app.text,
            tuple(sorted(env.items())),
            backend.setup or "",
        )
        with self._lock:
            starting = self._starting.setdefault(key, threading.Lock())
        with starting:
            if key not in self._hosts:
                try:
                    python = self.interpreter(backend)
                except Exception as exc:  # an interpreter that is not there, an environment that did not build
                    self._hosts[key] = AppHost("", error=str(exc))
                else:
                    self._hosts[key] = start_host(python, backend, project, env)
            return self._hosts[key]

    def app(self, scenario: Scenario, origins: Mapping[str, str]) -> WSGIApp:
        """What the lab's origin servers mount for the scenario: a forwarder to the app's host."""
        host = self.host(scenario.backend, origins)
        if host.error:
            raise AppHostError(host.error)
        forward = forwarding_app(host.port, self.timeout_s)
        forward.versions = host.versions  # type: ignore[attr-defined]  (expectations by version read the app's own)
        return forward

    def versions(self) -> List[Dict[str, str]]:
        """What each app ran with (python, flask, flask-cors, werkzeug), for the results' environment."""
        return [dict(host.versions, interpreter=host.python) for host in self._hosts.values() if not host.error]

    def close(self) -> None:
        for host in self._hosts.values():
            host.close()
        self._hosts.clear()
