"""`cors-lab scan`: write a scenario file from your own app's routes, with the expectations measured now."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Dict, List

from ..browsers.base import Candidate
from ..scan import DEFAULT_API
from ..scenario import Problem, Scenario, ScenarioError
from ..terminal import clean
from .common import Subcommands, check_routable, chosen_browsers, command_line_problem, refuse, remote_options


def add_parser(commands: Subcommands) -> argparse.ArgumentParser:
    """Its arguments: the app, the origins its frontend runs on, where it is served, and the file to write."""
    scan = commands.add_parser(
        "scan", help="write a scenario file from your own app's routes, expectations measured now"
    )
    scan.add_argument("target", metavar="TARGET", help="the app: package.module:create_app() or package.module:app")
    scan.add_argument("--project", type=Path, default=Path("."), help="where the app is imported from (default: here)")
    scan.add_argument(
        "--origin",
        action="append",
        default=[],
        metavar="[NAME=]ORIGIN",
        required=True,
        help="an origin your frontend runs on, as the browser writes it (https://app.example.com); repeatable",
    )
    scan.add_argument(
        "--api",
        default=DEFAULT_API,
        metavar="ORIGIN",
        help="where the app is served (default:"
        " http://api.localhost with a port the lab assigns; for example https://api.example.com)",
    )
    scan.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment for the app ({NAME} of an origin allowed, for example FRONTEND_URL={app}); repeatable",
    )
    scan.add_argument(
        "--python",
        metavar="PATH",
        help="the app's own interpreter (.venv/bin/python); default: the project's"
        " .venv or venv, else an environment built from its requirements (the lab's own never)",
    )
    scan.add_argument(
        "--setup",
        metavar="COMMAND",
        help="run once in the app's environment and folder before it serves,"
        ' for example "flask db upgrade" (env placeholders {tmp} and {secret} allowed)',
    )
    scan.add_argument(
        "--out", type=Path, default=Path("cors-scan.toml"), help="the scenario file to write (default cors-scan.toml)"
    )
    scan.add_argument("--browser", action="append", default=[], metavar="NAME")
    remote_options(scan)
    return scan


def execute(args: argparse.Namespace) -> int:
    """2 when the app cannot be scanned (not servable, no routes...), 1 when more than a few cases could not be
    measured; origins without a name are app, app2, ..."""
    import os

    from ..scan import AppSpec, ScanError, scan_app

    problems: List[Problem] = []
    named: Dict[str, str] = {}
    for number, value in enumerate(args.origin, start=1):
        name, separator, origin = value.rpartition("=")
        named[name if separator else ("app" if number == 1 else f"app{number}")] = origin
    env = {}
    for value in args.env:
        name, separator, setting = value.partition("=")
        if not separator or not name:
            problems.append(command_line_problem(f"--env {value!r}: expected NAME=VALUE"))
        env[name] = setting
    if problems:
        raise ScenarioError(problems)

    def browsers(scenarios: List[Scenario]) -> List[Candidate]:
        candidates = chosen_browsers(args)
        check_routable(scenarios, candidates)
        return candidates

    python = os.path.abspath(args.python) if args.python and os.sep in args.python else args.python
    try:
        report = scan_app(
            AppSpec(args.target, str(args.project), env, python, args.setup),
            args.project,
            named,
            args.api,
            args.out,
            browsers,
        )
    except ScanError as exc:
        return refuse(clean(exc))
    for line in report.lines:
        print(clean(line))
    return report.status
