"""`cors-lab list`: the scenarios by group, their cases and expectations (loading them validates them)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Dict, List

from ..scenario import Scenario
from ..terminal import clean
from .common import EXIT_OK, Subcommands, load_selected, selection_options


def add_parser(commands: Subcommands) -> argparse.ArgumentParser:
    """Its arguments: the files or folders, and which of their scenarios."""
    listing = commands.add_parser("list", help="list scenarios and their cases (validates them)")
    listing.add_argument("paths", nargs="*", type=Path)
    selection_options(listing)
    return listing


def execute(args: argparse.Namespace) -> int:
    """0 once listed; a scenario file with problems exits 2 (through the ScenarioError the loading raises)."""
    scenarios = load_selected(args)
    groups: Dict[str, List[Scenario]] = {}
    for scenario in scenarios:
        groups.setdefault(scenario.group or "(ungrouped)", []).append(scenario)
    for group, members in sorted(groups.items()):
        print(clean(f"{group}: {len(members)} scenarios, {sum(len(s.cases) for s in members)} cases"))
        for scenario in members:
            tags = f"  [{', '.join(scenario.tags)}]" if scenario.tags else ""
            print(clean(f"  {scenario.id}: {scenario.title}{tags}"))
            for condition, text in scenario.backend.start_error.items():
                print(clean(f"      (the app must not start if {condition}: {text!r})"))
            for case in scenario.cases:
                differences = "".join(f", {k}: {v}" for k, v in sorted(case.expect_per_browser.items()))
                differences += "".join(f", if {k}: {v}" for k, v in case.expect_by_version.items())
                print(clean(f"      {case.name}  -> {case.expect}{differences}"))
    claims = sum(len(s.claims) for s in scenarios)
    print(
        f"{len(scenarios)} scenarios, {sum(len(s.cases) for s in scenarios)} cases, {claims} claims, "
        f"in {len(groups)} group{'s' if len(groups) != 1 else ''}"
    )
    return EXIT_OK
