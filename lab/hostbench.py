"""`cors-lab bench --app-host`: what serving the user's app from a host process of its own costs per case.

The same Flask app twice: once described in a scenario (built in the lab's
process), once as a user's project (`app = "benchapp:app"`, served by
lab/backend/hosted.py), with the same cases, in turns, in the same browsers.
A user's app runs its cases one at a time (it may set cookies), so the described
backend is timed both ways: the difference at equal scheduling is the host's
cost; the difference at default scheduling is the scheduling's.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Sequence

from .browsers.base import Candidate
from .options import RunOptions
from .results import failed
from .run import Sink, run_lab
from .scenario import load_scenarios

ROUTES = 10
APP = f"""
from flask import Flask, jsonify
from flask_cors import CORS

app = Flask(__name__)
CORS(app, origins=["https://app.example.com"], supports_credentials=True)
for number in range({ROUTES}):
    app.add_url_rule(f"/r{{number}}", f"r{{number}}", lambda number=number: jsonify(route=number), methods=["GET", "POST"])
"""
HEAD = (
    '[origins]\napp = "https://app.example.com"\nevil = "https://evil.example.net"\napi = "https://api.example.com"\n'
)


def _cases() -> str:
    cases = []
    for number in range(ROUTES):
        for page in ("app", "evil"):
            for credentials in (False, True):
                for method in ("GET", "POST"):
                    case = (
                        f'[[cases]]\nname = "{method} /r{number} from {page}{" with credentials" if credentials else ""}"'
                        f'\npage = "{page}"\npath = "/r{number}"\nmethod = "{method}"\n'
                        f'expect = "{"allowed" if page == "app" else "blocked"}"\n'
                    )
                    case += 'credentials = "include"\n' if credentials else ""
                    case += 'headers = { Content-Type = "application/json" }\nbody = "{}"\n' if method == "POST" else ""
                    cases.append(case)
    return "\n".join(cases)


def write_pair(folder: Path) -> Dict[str, Path]:
    """The described scenario and the same app as a user's project, with the same cases."""
    (folder / "project").mkdir(parents=True, exist_ok=True)
    (folder / "project" / "benchapp.py").write_text(APP)
    routes = "".join(
        f'[[backend.routes]]\npath = "/r{n}"\nmethods = ["GET", "POST"]\nbody = "ok"\n' for n in range(ROUTES)
    )
    described = folder / "described.toml"
    described.write_text(
        'title = "described"\n' + HEAD + '[backend]\ncors = { origins = ["https://app.example.com"],'
        " supports_credentials = true }\n" + routes + "\n" + _cases()
    )
    hosted = folder / "hosted.toml"
    hosted.write_text('title = "hosted"\n' + HEAD + '[backend]\napp = "benchapp:app"\nproject = "project"\n' + _cases())
    return {"described": described, "hosted": hosted}


class _Clock(Sink):
    def __init__(self) -> None:
        self.ready: List[float] = []
        self.last = 0.0
        self.rows = 0
        self.unexpected = 0

    def browser_ready(self, info: object) -> None:
        self.ready.append(time.perf_counter())

    def row(self, row: object) -> None:
        self.last = time.perf_counter()
        self.rows += 1
        self.unexpected += failed(row)  # an unsupported cell is not unexpected


@dataclass(frozen=True)
class Turn:
    """One timed run: which backend, which scheduling, how long from the last browser ready to the last row."""

    name: str
    seconds: float
    cells: int
    unexpected: int

    def line(self) -> str:
        return (
            f"{self.name:<36} {self.seconds:6.2f} s  {self.seconds / self.cells * 1000:6.1f} ms a cell"
            f"  ({self.cells} cells, {self.unexpected} unexpected)"
        )


def measure_host(candidates: Sequence[Candidate], turns: int = 3) -> Iterator[Turn]:
    """Described (default and one at a time) and hosted, in turns, `turns` times each."""
    with tempfile.TemporaryDirectory(prefix="cors-lab-hostbench-") as folder:
        files = write_pair(Path(folder))
        kinds = [
            ("described, default scheduling", files["described"], False),
            ("described, one case at a time", files["described"], True),
            ("user's app in its host (one at a time)", files["hosted"], False),
        ]
        for _ in range(turns):
            for name, path, alone in kinds:
                clock = _Clock()
                run_lab(load_scenarios([path]), candidates, RunOptions(10.0, one_at_a_time=alone), clock)
                start = max(clock.ready) if clock.ready else clock.last
                yield Turn(name, clock.last - start, clock.rows, clock.unexpected)
