"""Backends built with the installed Flask (in this process) or with a pin's (in a host subprocess).

Both give the runner a WSGI app per (browser slot, scenario). A pinned backend is
reached through a small forwarding proxy, so that the lab's origin servers,
pages and recorder stay the same for every pin and browsers launch once. The
user's own app (`[backend] app`) is never built here: it is served by a host
process of its own (lab/backend/hosted.py), with the pin's environment under a
pin and with the app's own environment otherwise.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from ..pins import ENVS_DIR, Pin, PinEnv, app_requirements, ensure_env
from ..scenario.model import Backend, Scenario
from .app import BackendBuildError, build_app
from .forward import forwarding_app
from .hosted import AppHostError, AppHosts, end_host
from .recorder import WSGIApp

LAB_ROOT = Path(__file__).resolve().parent.parent.parent


def _hosted(hosts: AppHosts, scenario: Scenario, origins: Mapping[str, str]) -> WSGIApp:
    try:
        return hosts.app(scenario, origins)
    except AppHostError as exc:
        raise BackendBuildError(str(exc)) from exc


class LocalBackends:
    """Backends built in this process, with whatever Flask and flask-cors are installed here; the user's own app in
    its own environment (`python` names its interpreter, as `--python` does; else see lab/backend/appenv.py)."""

    def __init__(self, python: Optional[str] = None, envs: Path = ENVS_DIR, timeout_s: float = 30.0) -> None:
        import platform
        from importlib.metadata import version

        self.versions = {
            "python": platform.python_version(),
            "flask": version("flask"),
            "flask-cors": version("flask-cors"),
            "werkzeug": version("werkzeug"),
        }
        self.label = f"flask {self.versions['flask']} / flask-cors {self.versions['flask-cors']}"
        self.error: Optional[str] = None
        self.python = python
        self.envs = envs
        self.hosts = AppHosts(self._interpreter, timeout_s)

    def _interpreter(self, backend: Backend) -> str:
        from .appenv import app_interpreter

        project = (backend.project or Path.cwd()).resolve()
        return app_interpreter(project, self.python or backend.python, backend.requirements, self.envs).python

    def build(self, slot: str, scenario: Scenario, origins: Mapping[str, str], stopping: threading.Event) -> WSGIApp:
        if scenario.backend.app is not None:
            return _hosted(self.hosts, scenario, origins)
        return build_app(scenario, origins, stopping)

    def close(self) -> None:
        self.hosts.close()


class PinnedBackends:
    """A pin's host subprocess; `error` says why it is unusable (install or import failure)."""

    def __init__(self, env: PinEnv, timeout_s: float = 30.0) -> None:
        self.label = env.pin.label
        self.versions: Dict[str, str] = dict(env.versions)
        self.error: Optional[str] = env.error
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._process: Optional[subprocess.Popen] = None
        pin_python = env.python
        self.hosts = AppHosts(lambda backend: pin_python or "", timeout_s)
        if env.python is None:
            return
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._process = subprocess.Popen(
            [env.python, "-m", "lab.pinhost"],
            cwd=str(LAB_ROOT),
            env=dict(os.environ, PYTHONPATH=str(LAB_ROOT), PYTHONDONTWRITEBYTECODE="1"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        ready = self._read(60)
        if not ready or not ready.get("ready"):
            reason = ready.get("error") if ready else f"its host process ended: {self._stderr_tail()}"
            self.error = f"{self.label} does not start: {reason}"
            self.close()

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        lines = [line.strip() for line in self._stderr.read().splitlines() if line.strip()]
        return lines[-1] if lines else "no output"

    def _read(self, timeout_s: float) -> Optional[Dict[str, Any]]:
        assert self._process is not None and self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], timeout_s)
        line = self._process.stdout.readline() if ready else ""
        return json.loads(line) if line else None

    def _ask(self, command: Dict[str, Any]) -> Dict[str, Any]:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                raise BackendBuildError(f"the host process of {self.label} is not running")
            assert self._process.stdin is not None
            self._process.stdin.write(json.dumps(command) + "\n")
            self._process.stdin.flush()
            answer = self._read(60)
        if answer is None:
            raise BackendBuildError(f"the host process of {self.label} did not answer")
        return answer

    def build(self, slot: str, scenario: Scenario, origins: Mapping[str, str], stopping: threading.Event) -> WSGIApp:
        if self.error:
            raise BackendBuildError(self.error)
        if scenario.backend.app is not None:
            return _hosted(self.hosts, scenario, origins)
        answer = self._ask(
            {
                "op": "mount",
                "slot": slot,
                "path": str(scenario.path.resolve()),
                "scenario_id": scenario.id,
                "origins": dict(origins),
            }
        )
        if not answer.get("ok"):
            raise BackendBuildError(answer.get("error", "unknown error"))
        return forwarding_app(int(answer["port"]), self.timeout_s)

    def close(self) -> None:
        self.hosts.close()
        process, self._process = self._process, None
        if process is not None:
            end_host(process)


def start_backends(envs: List[PinEnv], timeout_s: float) -> List[PinnedBackends]:
    """Start every pin's host side by side."""
    started: List[Optional[PinnedBackends]] = [None] * len(envs)

    def start(index: int) -> None:
        started[index] = PinnedBackends(envs[index], timeout_s)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(len(envs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [b for b in started if b is not None]


def prepare_backends(
    pins: Sequence[Pin], scenarios: Sequence[Scenario], envs: Path, timeout_s: float, say: Callable[[str], None]
) -> List[PinnedBackends]:
    """Make every pin's environment (in parallel, reused when unchanged) and start its host process. The apps under
    test (`[backend] app`) bring their own requirements into every pin's environment."""
    from concurrent.futures import ThreadPoolExecutor

    extra = sorted(
        {
            requirement
            for s in scenarios
            if s.backend.app is not None
            for requirement in app_requirements(s.backend.requirements, s.backend.project or Path.cwd())
        }
    )
    say(
        f"preparing {len(pins)} pin environment(s) in {envs} ..."
        + (f" (with the apps' requirements: {', '.join(extra)})" if extra else "")
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        made = list(pool.map(lambda pin: ensure_env(pin, envs, extra), pins))
    backends = start_backends(made, timeout_s)
    for backend in backends:
        state = (
            f"error: {backend.error}" if backend.error else ", ".join(f"{k} {v}" for k, v in backend.versions.items())
        )
        say(f"  {backend.label}: {state}")
    return backends
