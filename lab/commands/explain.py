"""`cors-lab explain`: the story of one case in every browser, from a run now or from a results file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Dict, List, Optional

from ..options import RunOptions
from ..results import ResultsFile
from ..run import run_lab
from ..scenario.load import LIBRARY, scenario_id
from ..terminal import Progress, clean
from .common import EXIT_OK, Subcommands, chosen_browsers, load_selected, refuse, remote_options


def add_parser(commands: Subcommands) -> argparse.ArgumentParser:
    """Its arguments: which scenario and case, where to find them, and the browsers or results to use."""
    explain = commands.add_parser(
        "explain",
        help="the story of one case in every browser: what was exchanged, the"
        " browser's reason, the standard's reason, what to change",
    )
    explain.add_argument(
        "target", metavar="SCENARIO[:CASE]", help="a scenario id (or its end) and optionally a case name (or part)"
    )
    explain.add_argument("paths", nargs="*", type=Path, help="where the scenario is (default: the built-in scenarios/)")
    explain.add_argument("--browser", action="append", default=[], metavar="NAME")
    explain.add_argument(
        "--results", type=Path, metavar="FILE", help="explain from a results file instead of running now"
    )
    remote_options(explain)
    return explain


def execute(args: argparse.Namespace) -> int:
    """2 when the target names no scenario (or no case of it); the scenario may also be given as its file's path."""
    import dataclasses

    from ..explain import story
    from ..report.cells import ResultsInputError, load_document

    scenario_part, _, case_part = args.target.partition(":")
    if scenario_part.endswith(".toml") and Path(scenario_part).is_file():  # a file path, as well as a scenario id
        args.paths = [Path(scenario_part)]
        scenario_part = scenario_id(Path(scenario_part), LIBRARY)

    def pick(ids: List[str]) -> Optional[str]:
        exact = [i for i in ids if i == scenario_part]
        ending = [i for i in ids if i.endswith("/" + scenario_part) or i.endswith(scenario_part)]
        return (exact or ending or [None])[0] if len(exact or ending) <= 1 else None

    if args.results:
        try:
            rows = load_document(args.results)["results"]
        except ResultsInputError as exc:
            return refuse(clean(exc))
        chosen = pick(sorted({r["scenario"] for r in rows}))
        rows = [r for r in rows if r["scenario"] == chosen]
        names = set(_cases_named(case_part, sorted({r["case"] for r in rows})))
        rows = [r for r in rows if r["case"] in names]
    else:
        args.select, args.group, args.tag = None, [], []
        scenarios = load_selected(args)
        chosen = pick([s.id for s in scenarios])
        scenario = next((s for s in scenarios if s.id == chosen), None)
        if scenario is None:
            rows = []
        else:
            names = set(_cases_named(case_part, [c.name for c in scenario.cases]))
            cases = tuple(c for c in scenario.cases if c.name in names)
            if not cases:
                listed = "\n  ".join(c.name for c in scenario.cases)
                return refuse(clean(f"no case of {scenario.id} matches {case_part!r}; its cases:\n  {listed}"))
            results = ResultsFile(None)
            candidates = chosen_browsers(args)
            run_lab(
                [dataclasses.replace(scenario, cases=cases)],
                candidates,
                RunOptions(10.0),
                Progress(results, len(cases) * len(candidates)),
            )
            rows = results.cells
    if not rows:
        return refuse(
            clean(f"no scenario matches {scenario_part!r} (use an id from `cors-lab list`, or a unique end of one)")
        )
    by_case: Dict[str, List[dict]] = {}
    for row in sorted(rows, key=lambda r: (r["case"], r["browser"], r.get("pin", ""))):
        by_case.setdefault(row["case"], []).append(row)
    for case_rows in by_case.values():
        for line in story(case_rows):
            print(clean(line))
        print()
    return EXIT_OK


def _cases_named(wanted: str, names: List[str]) -> List[str]:
    """The case named exactly `wanted`, else every case whose name contains it: `"GET /x from attacker"` must not
    also run `"GET /x from attacker with credentials"`."""
    quoted = len(wanted) > 1 and wanted[0] == wanted[-1] and wanted[0] in "\"'"  # quotes a shell left in
    for text in (wanted, wanted[1:-1]) if quoted else (wanted,):
        exact = [name for name in names if name == text]
        if exact:
            return exact
    return [name for name in names if (wanted[1:-1] if quoted else wanted) in name]
