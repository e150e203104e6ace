"""`cors-lab doctor`: which engines are usable here, how each is driven, what to install.

"Found" is not "usable": each browser is launched and runs one allowed and one
blocked fetch, so a browser that cannot be driven (a Playwright too new for the
installed Firefox, a missing X display) says so here, before a long run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, TextIO, Tuple

from .browsers.base import BrowserInfo, Candidate
from .browsers.discovery import INSTALL_HINTS, KNOWN
from .results import ResultRow, failed, unsupported
from .run import RunOptions, Sink, run_lab
from .scenario import load_scenarios

DOCTOR_SCENARIO = Path(__file__).parent / "doctor.toml"


class _Collect(Sink):
    def __init__(self) -> None:
        self.rows: List[ResultRow] = []
        self.infos: Dict[str, BrowserInfo] = {}

    def browser_ready(self, info: BrowserInfo) -> None:
        self.infos[info.name] = info

    def row(self, row: ResultRow) -> None:
        self.rows.append(row)


def diagnose(candidates: Sequence[Candidate], out: TextIO, others: Sequence[Candidate] = ()) -> bool:
    """Print one block per engine, with each other driver that can run it here (`others`, tried too, named
    ENGINE-DRIVER); True when all three engines are usable with the drivers a run uses."""
    collected = _Collect()
    if candidates:
        run_lab(load_scenarios([DOCTOR_SCENARIO]), [*candidates, *others], RunOptions(timeout_s=10), collected)
    usable_engines = set()
    for engine in KNOWN:
        mine = [c for c in candidates if c.engine == engine]
        if not mine:
            out.write(f"{engine}: MISSING\n  install: {INSTALL_HINTS[engine]}\n")
        for candidate in mine:  # a local browser and remote ones of the same engine each get their own block
            usable, problems = _tried(candidate, collected)
            title = engine if candidate.name == engine else f"{engine} ({candidate.name})"
            info = collected.infos.get(candidate.name)
            out.write(f"{title}: {'usable' if usable else 'NOT USABLE'}\n")
            out.write(f"  binary:  {candidate.executable}\n")
            out.write(f"  version: {info.product + ' ' + info.version if info else 'unknown (did not start)'}\n")
            out.write(f"  driven:  {candidate.driver} (what runs use)\n")
            for other in (o for o in others if candidate.name == engine and o.engine == engine):
                works, why = _tried(other, collected)
                driver = other.name.rpartition("-")[2]
                out.write(
                    f"  also:    {other.driver} (--driver {engine}={driver}):"
                    f" {'usable' if works else 'NOT USABLE: ' + '; '.join(why)}\n"
                )
            if usable:
                usable_engines.add(engine)
                continue
            for reason in problems:
                out.write(f"  problem: {reason}\n")
            out.write(f"  install: {INSTALL_HINTS[engine]}\n")
    return usable_engines == set(KNOWN)


def _tried(candidate: Candidate, collected: _Collect) -> Tuple[bool, List[str]]:
    """Whether the doctor's cases ran as expected in this browser, and if not, why. An unsupported cell (one the
    engine cannot be told how to run) is no problem, but proves nothing: a browser needs a measured cell."""
    rows = [r for r in collected.rows if r.browser == candidate.name]
    measured = [r for r in rows if not unsupported(r)]
    problems = sorted({r.reason or f"{r.case}: {r.outcome}, expected {r.expected}" for r in rows if failed(r)})
    if not measured:
        problems = problems or sorted({f"not measurable: {r.reason}" for r in rows}) or ["no result"]
    return bool(measured) and not problems, problems
