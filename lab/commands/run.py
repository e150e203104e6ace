"""`cors-lab run`: run scenarios in real browsers, with version pins, and write the results and their CI formats."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..backend.pinned import LocalBackends
from ..options import RunOptions
from ..pins import ENVS_DIR, Pin, choose_pins
from ..results import ResultsFile, cell_key, passed, read_earlier
from ..run import run_lab
from ..scenario import Problem, Scenario, ScenarioError
from ..terminal import Progress, clean, is_color, mismatches, summary, totals
from .common import (
    EXIT_MISMATCH,
    EXIT_OK,
    Subcommands,
    check_routable,
    chosen_browsers,
    command_line_problem,
    load_selected,
    refuse,
    remote_options,
    selection_options,
)


def add_parser(commands: Subcommands) -> argparse.ArgumentParser:
    """Its arguments: what to run, in which browsers, for which pins, and where the results go."""
    run = commands.add_parser("run", help="run scenarios in real browsers")
    run.add_argument("paths", nargs="*", type=Path, help="scenario files or folders (default: the built-in scenarios/)")
    run.add_argument(
        "--browser",
        action="append",
        default=[],
        metavar="NAME",
        help="chromium, firefox or webkit; repeatable (default: every browser found)",
    )
    remote_options(run)
    run.add_argument("--out", type=Path, help="write the results JSON here (streamed while running)")
    run.add_argument(
        "--resume",
        action="store_true",
        help="with --out: keep the cells an interrupted or killed run of the same FILE measured, and run only the rest",
    )
    selection_options(run)
    run.add_argument("--shuffle", type=int, metavar="SEED", help="run scenarios and cases in a random order from SEED")
    run.add_argument(
        "--timeout", type=float, default=10.0, metavar="SECONDS", help="per-case fetch timeout (default 10)"
    )
    run.add_argument("--quiet", action="store_true", help="print only the totals line")
    run.add_argument(
        "--junit",
        type=Path,
        metavar="FILE",
        help="also write JUnit XML: a testcase per cell, a failure per"
        " unexpected outcome, an error per unexpected error or timeout",
    )
    run.add_argument(
        "--sarif",
        type=Path,
        metavar="FILE",
        help="also write SARIF 2.1.0 for code scanning (upload it with"
        " github/codeql-action/upload-sarif): a result per unexpected cell, and one per attacker page that"
        " reads a credentialed response in a security scenario or a scan file, even an expected one",
    )
    topology = run.add_argument_group(
        "browsers on other machines (the servers serve deliberately insecure CORS: see docs/browsers.md)"
    )
    topology.add_argument(
        "--bind",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address the origin servers listen on (default 127.0.0.1)",
    )
    topology.add_argument(
        "--host-suffix",
        default="localhost",
        metavar="SUFFIX",
        help="serve app.localhost as app.SUFFIX, a name the remote browser resolves to --bind (default localhost)",
    )
    topology.add_argument(
        "--browser-arg",
        action="append",
        default=[],
        metavar="ENGINE=ARG",
        help="an extra launch argument for a browser Playwright launches, for example"
        " chromium=--host-resolver-rules=MAP *.lab.test 127.0.0.2; repeatable",
    )
    run.add_argument(
        "--one-at-a-time",
        action="store_true",
        help="run every case alone, nothing else in flight (slower;"
        " the cells must be the same: a check of the lab itself)",
    )
    run.add_argument(
        "--instances",
        action="append",
        default=[],
        metavar="N|NAME=N",
        help="browser instances per engine, side by side: 2, or firefox=2; repeatable (default 1)",
    )
    pins = run.add_argument_group("version pins (default: the Flask and flask-cors installed here)")
    pins.add_argument("--pins", type=Path, metavar="FILE", help="run every [[pin]] of a pins file (see pins.toml)")
    pins.add_argument(
        "--full", action="store_true", help="with --pins: the cross product of every version the file names"
    )
    pins.add_argument(
        "--flask", action="append", default=[], metavar="VERSION", help="Flask line or release; repeatable"
    )
    pins.add_argument(
        "--flask-cors", action="append", default=[], metavar="VERSION", help="flask-cors line or release; repeatable"
    )
    pins.add_argument(
        "--python",
        metavar="VERSION|PATH",
        help='with --flask/--flask-cors: the pins\' Python ("3.9";'
        " default: the one running the lab; flask-cors before 3.0.8 needs 3.9); without them: the"
        " interpreter of your own app (.venv/bin/python), as [backend] python says",
    )
    pins.add_argument(
        "--envs",
        type=Path,
        default=None,
        metavar="DIR",
        help="where pin environments are kept (default .cors-lab/envs)",
    )
    return run


def execute(args: argparse.Namespace) -> int:
    """0 when every cell is as expected, 1 when one is not, 130 when interrupted (the cells so far are kept)."""
    scenarios = load_selected(args)
    if not scenarios:
        return refuse(f"no scenario matches {args.select!r}")
    _check_topology(args)
    candidates = chosen_browsers(args)
    check_routable(scenarios, candidates)
    pins = _pins(args)
    started = time.perf_counter()
    backends = (
        _prepare_backends(pins, args, scenarios)
        if pins
        else [LocalBackends(_app_python(args), args.envs or ENVS_DIR, max(30.0, args.timeout + 5))]
    )
    earlier = None
    if args.resume:
        if args.out is None:
            raise ScenarioError([command_line_problem("--resume needs --out FILE (the run to complete)")])
        try:
            earlier = read_earlier(args.out)
        except (OSError, ValueError) as exc:
            raise ScenarioError([Problem(args.out, 0, f"cannot resume from it: {exc}")]) from exc
    done = frozenset(cell_key(row) for row in (earlier or {}).get("results", []))
    if earlier:
        print(f"resuming {args.out}: {len(done)} cells kept", file=sys.stderr)
    results = ResultsFile(args.out, earlier=earlier)
    results.set_pins([{"label": b.label, **b.versions, "error": b.error} for b in backends])
    results.set_claims([{"scenario": s.id, **claim.to_dict()} for s in scenarios for claim in s.claims])
    total = sum(len(s.cases) for s in scenarios) * len(candidates) * len(backends) - len(done)
    progress = Progress(results, total)
    completed = False
    try:
        # One instance per browser: cases in flight together keep it busy, and a second Firefox would open its pages
        # again (measured on the library: 35 s with one, 39 s with two).
        instances = _instances(args.instances)
        completed = run_lab(
            scenarios,
            candidates,
            RunOptions(args.timeout, args.shuffle, instances, done, args.bind, args.host_suffix, args.one_at_a_time),
            progress,
            backends,
        )
    finally:
        progress.close()
        apps = [b.hosts.versions() if hasattr(b, "hosts") else [] for b in backends]
        if any(apps):  # what each user's app really ran with
            results.set_pins(
                [
                    {"label": b.label, **b.versions, "error": b.error, **({"apps": ran} if ran else {})}
                    for b, ran in zip(backends, apps)
                ]
            )
        results.finish(complete=completed)
        for backend in backends:
            backend.close()
    rows = results.cells
    browsers = [c.name for c in candidates]
    if not args.quiet:
        print(summary(rows, browsers, is_color(sys.stdout)))
        print()
    print(totals(rows, time.perf_counter() - started))
    for line in mismatches(rows):
        print(line)
    _ci_outputs(args, rows, scenarios, time.perf_counter() - started)
    if args.out:
        print(f"results: {args.out}")
    if not completed:
        print("interrupted: the results file holds every cell measured so far", file=sys.stderr)
        return 130
    return EXIT_OK if passed(rows) else EXIT_MISMATCH  # unsupported cells neither pass nor fail (lab/results.py)


def _check_topology(args: argparse.Namespace) -> None:
    """--bind is an IP address and --host-suffix a host name; serving beyond loopback is worth a warning."""
    import ipaddress
    import re

    try:
        address = ipaddress.ip_address(args.bind)
    except ValueError:
        raise ScenarioError([command_line_problem(f"--bind {args.bind!r} is not an IP address")]) from None
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*", args.host_suffix):
        raise ScenarioError([command_line_problem(f"--host-suffix {args.host_suffix!r} is not a host name")])
    if not address.is_loopback:
        print(
            f"cors-lab: WARNING: serving on {address}: every machine that reaches this address can use the scenario"
            " backends, which are deliberately misconfigured CORS APIs; use a private network",
            file=sys.stderr,
        )


def _instances(values: List[str]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for value in values:
        name, _, number = value.rpartition("=")
        if not number.isdigit() or int(number) < 1:
            raise ScenarioError([command_line_problem(f"--instances {value!r}: expected N or NAME=N with N >= 1")])
        counts[name or "*"] = int(number)
    return counts


def _app_python(args: argparse.Namespace) -> Optional[str]:
    """--python without pins names the user's app's interpreter (absolute, not resolved: a venv's is a symlink)."""
    if not args.python or args.pins or args.flask or args.flask_cors:
        return None
    return os.path.abspath(args.python) if os.sep in args.python else args.python


def _pins(args: argparse.Namespace) -> List[Pin]:
    python = args.python if (args.flask or args.flask_cors or args.pins) else None
    return choose_pins(args.pins, args.flask, args.flask_cors, python, args.full, LocalBackends().versions)


def _prepare_backends(pins: List[Pin], args: argparse.Namespace, scenarios: Sequence[Scenario]) -> list:
    from ..backend.pinned import prepare_backends

    return prepare_backends(
        pins,
        scenarios,
        args.envs or ENVS_DIR,
        max(30.0, args.timeout + 5),
        lambda line: print(clean(line), file=sys.stderr, flush=True),
    )


def _ci_outputs(args: argparse.Namespace, rows: list, scenarios: Sequence[Scenario], seconds: float) -> None:
    """JUnit XML with --junit; SARIF with --sarif; GitHub annotations on the cases' lines when running in GitHub Actions."""
    from ..report.ci import github_annotations, junit_xml, locations

    where = locations(scenarios)
    if args.junit:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_text(junit_xml(rows, where, seconds), encoding="utf-8")
        print(f"junit: {args.junit}")
    if args.sarif:
        from ..report.sarif import sarif_log, untrusted_cases

        args.sarif.parent.mkdir(parents=True, exist_ok=True)
        args.sarif.write_text(
            json.dumps(sarif_log(rows, where, untrusted_cases(scenarios), Path.cwd()), indent=2) + "\n",
            encoding="utf-8",
        )
        print(f"sarif: {args.sarif}")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in github_annotations(rows, where, Path.cwd()):
            print(line)
