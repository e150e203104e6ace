"""Serve scenario backends inside a pin's environment: `python -m lab.pinhost`.

It lives outside `lab.backend` so that nothing imports Flask before `main()` can
report a Flask that does not import.

Runs with the pin's Flask and flask-cors (and imports nothing else of the lab
but the scenario loader and the backend builder). The lab talks to it over
stdin/stdout, one JSON object per line:

  <- {"ready": true, "versions": {...}}            (or {"ready": false, "error": "..."})
  -> {"op": "mount", "slot": "chromium", "path": "...", "scenario_id": "...", "origins": {...}}
  <- {"ok": true, "port": 41234}                    (or {"ok": false, "error": "..."})
  -> {"op": "unmount", "slot": "chromium"}          <- {"ok": true}

Each slot (one per browser worker) is a loopback server whose app is swapped on mount.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional

from .apphost import guarded


def _reply(message: Dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class _Slot:
    def __init__(self) -> None:
        from .servers import OriginServer

        self.app: Optional[Callable[..., Iterable[bytes]]] = None
        self.server = OriginServer(self._dispatch)

    def _dispatch(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        app = self.app
        if app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"cors-lab: no scenario is mounted"]
        return guarded(app)(environ, start_response)


def _versions() -> Dict[str, str]:
    import platform
    from importlib.metadata import version

    return {
        "python": platform.python_version(),
        "flask": version("flask"),
        "flask-cors": version("flask-cors"),
        "werkzeug": version("werkzeug"),
    }


def main() -> int:
    try:
        import flask  # noqa: F401  (a pin whose Flask does not import is reported, not crashed on)

        from .backend.app import BackendBuildError, build_app
        from .scenario import load_file

        versions = _versions()
    except Exception as exc:
        _reply({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    _reply({"ready": True, "versions": versions})
    slots: Dict[str, _Slot] = {}
    stopping = threading.Event()
    for line in sys.stdin:
        command = json.loads(line)
        slot = slots.get(command.get("slot", ""))
        if command["op"] == "unmount":
            if slot is not None:
                slot.app = None
            _reply({"ok": True})
            continue
        scenario, problems = load_file(Path(command["path"]), command["scenario_id"])
        if scenario is None:
            _reply({"ok": False, "error": "; ".join(str(p) for p in problems)})
            continue
        try:
            app = build_app(scenario, command["origins"], stopping)
        except BackendBuildError as exc:
            _reply({"ok": False, "error": str(exc)})
            continue
        if slot is None:
            slot = slots[command["slot"]] = _Slot()
        slot.app = app
        _reply({"ok": True, "port": slot.server.port})
    stopping.set()
    for slot in slots.values():
        slot.server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
