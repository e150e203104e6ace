"""`cors-lab bench --scale 100,1000,10000`: how wall time and memory grow with the number of cases.

Generated scenarios (10 cases each: allowed, blocked, preflighted, credentialed,
refused preflights) run through the real lab in every browser found. After each
size the lab's own threads, open file descriptors and child processes are
counted: a per-case leak (servers, pages, sockets, threads) would grow them.
"""

from __future__ import annotations

import os
import resource
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Sequence

from .browsers.base import Candidate
from .options import RunOptions
from .results import failed
from .run import Sink, run_lab
from .scenario import load_scenarios

CASES = """
[[cases]]
name = "allowed GET {n}"
path = "/data"
expect = "allowed"

[[cases]]
name = "refused origin {n}"
page = "evil"
path = "/data"
expect = "blocked"

[[cases]]
name = "preflighted PUT {n}"
path = "/data"
method = "PUT"
headers = {{ Content-Type = "application/json" }}
body = "{{}}"
expect = "allowed"

[[cases]]
name = "credentialed GET {n}"
path = "/data"
credentials = "include"
expect = "allowed"

[[cases]]
name = "header not allowed {n}"
path = "/data"
headers = {{ X-Not-Allowed = "1" }}
expect = "blocked"

[[cases]]
name = "method not allowed {n}"
path = "/data"
method = "PATCH"
expect = "blocked"

[[cases]]
name = "exposed header {n}"
path = "/data"
read_headers = ["X-Total"]
expect = "allowed"

[[cases]]
name = "refused credentialed {n}"
page = "evil"
path = "/data"
credentials = "include"
expect = "blocked"

[[cases]]
name = "no CORS route {n}"
path = "/plain"
expect = "blocked"

[[cases]]
name = "DELETE preflight {n}"
path = "/data"
method = "DELETE"
expect = "allowed"
"""

SCENARIO = (
    """title = "generated scenario {n}"
tags = ["generated"]

[origins]
evil = "http://evil.localhost"

[backend]
cors = {{ resources = {{ "/data" = {{ origins = ["{{app}}"], methods = ["GET", "PUT", "DELETE"], allow_headers = ["Content-Type"], expose_headers = ["X-Total"], supports_credentials = true }} }} }}

[[backend.routes]]
path = "/data"
methods = ["GET", "PUT", "DELETE", "PATCH"]
headers = {{ X-Total = "{n}" }}

[[backend.routes]]
path = "/plain"
"""
    + CASES
)


def generate(folder: Path, cases: int) -> Path:
    """Write `cases` cases (10 per scenario) into a folder of scenario files."""
    for n in range(max(1, cases // 10)):
        (folder / f"generated-{n:05d}.toml").write_text(SCENARIO.format(n=n), encoding="utf-8")
    return folder


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _descendants(pid: int) -> List[int]:
    children: dict = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


class _Meter(Sink):
    """Counts cells and samples the memory of the lab and its browsers while they run."""

    def __init__(self) -> None:
        self.cells = 0
        self.unexpected = 0
        self.requests = 0
        self.answered = 0
        self.peak_mb = 0.0
        self._lock = threading.Lock()

    def row(self, row) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            self.requests += len(row.exchanges)
            self.answered += sum(1 for e in row.exchanges if e["status"] is not None)
            self.cells += 1
            self.unexpected += failed(row)  # an unsupported cell is not unexpected
            if self.cells % 50 == 0:
                total = _rss_mb(os.getpid()) + sum(_rss_mb(p) for p in _descendants(os.getpid()))
                self.peak_mb = max(self.peak_mb, total)


@dataclass
class ScalePoint:
    cases: int
    cells: int
    unexpected: int
    wall_s: float
    peak_mb: float
    lab_max_rss_mb: float
    requests: int
    answered: int
    threads_after: int
    fds_after: int
    children_after: int

    def line(self) -> str:
        return (
            f"{self.cases:>6} cases: {self.cells} cells ({self.unexpected} unexpected) in {self.wall_s:.1f} s "
            f"= {self.wall_s / max(self.cells, 1) * 1000:.1f} ms/cell; peak memory (lab + browsers) {self.peak_mb:.0f} MB, "
            f"lab max RSS {self.lab_max_rss_mb:.0f} MB; servers answered {self.answered} of {self.requests} requests; "
            f"after the run: {self.threads_after} threads, "
            f"{self.fds_after} open fds, {self.children_after} child processes"
        )


def measure_scale(sizes: Sequence[int], candidates: Sequence[Candidate], options: RunOptions) -> Iterator[ScalePoint]:
    """One point per size, as soon as it is measured."""
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="cors-lab-scale-") as folder:
            scenarios = load_scenarios([generate(Path(folder), size)])
            meter = _Meter()
            started = time.perf_counter()
            run_lab(scenarios, candidates, options, meter)
            wall = time.perf_counter() - started
        yield ScalePoint(
            cases=sum(len(s.cases) for s in scenarios),
            cells=meter.cells,
            unexpected=meter.unexpected,
            wall_s=wall,
            requests=meter.requests,
            answered=meter.answered,
            peak_mb=meter.peak_mb,
            lab_max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            threads_after=threading.active_count(),
            fds_after=len(os.listdir("/proc/self/fd")),
            children_after=len(_descendants(os.getpid())),
        )
