"""`cors-lab bench`: what a case costs in the lab against a plain loop and the in-page floor making the same fetches,
or how runs scale."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..options import RunOptions
from .common import EXIT_OK, Subcommands, load_selected, local_browsers, refuse, selection_options


def add_parser(commands: Subcommands) -> argparse.ArgumentParser:
    """Its arguments: the scenarios and browsers to measure, or --scale for generated libraries."""
    bench = commands.add_parser(
        "bench", help="per-case cost of the lab against a plain loop and the in-page floor (the same fetches)"
    )
    bench.add_argument("paths", nargs="*", type=Path)
    bench.add_argument("--browser", action="append", default=[], metavar="NAME")
    selection_options(bench)
    bench.add_argument(
        "--scale",
        metavar="N,N,...",
        help="instead: run generated libraries of N cases each and print how"
        " wall time, memory, threads, fds and processes grow (for example 100,1000,10000)",
    )
    bench.add_argument(
        "--app-host",
        action="store_true",
        help="instead: the same app described and as your own project"
        " (served by a host process of its own), in turns: what the host costs per cell",
    )
    return bench


def execute(args: argparse.Namespace) -> int:
    """Measurements are printed as they come; only local browsers are measured."""
    from ..bench import measure

    if args.app_host:
        from ..hostbench import measure_host

        print(
            "the same app and 240 cases per engine, described (in the lab's process) and as a user's project (in its"
            " own host process), in turns; from the last browser ready to the last cell",
            flush=True,
        )
        for turn in measure_host(local_browsers(args.browser)):
            print(turn.line(), flush=True)
        return EXIT_OK
    if args.scale:
        from ..scale import measure_scale

        sizes = [int(n) for n in args.scale.split(",") if n.strip().isdigit()]
        if not sizes:
            return refuse(f"--scale {args.scale!r}: expected numbers such as 100,1000")
        for point in measure_scale(sizes, local_browsers(args.browser), RunOptions(10.0)):
            print(point.line(), flush=True)
        return EXIT_OK
    scenarios = load_selected(args)
    print(
        f"{sum(len(s.cases) for s in scenarios)} cases of {len(scenarios)} scenarios; lab, loop and floor make the same"
        " fetches (https origins through the lab's routing, sandboxed frames, repeats and their pauses), with the"
        " same in-page probe, in the pages the lab uses (local-network permissions too); a browser that cannot be told"
        " a case's address spaces fetches nothing for it; browser launch excluded, page opens included",
        flush=True,
    )
    results = []
    for candidate in local_browsers(args.browser):
        results.append(measure(scenarios, candidate))
        for line in results[-1].lines():
            print(line, flush=True)
    for result in results:
        print(result.ratios())
    return EXIT_OK
