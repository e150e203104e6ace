"""The `cors-lab` command: run, list, report, diff, bench, explain, scan, doctor, install-browsers.

Each subcommand is a module of `lab/commands/` (its arguments and what it does); this module puts their parsers
together and turns the errors any of them can meet into messages and exit statuses.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from .browsers.base import BrowserUnavailable
from .commands import bench, diff, doctor, explain, install_browsers, listing, report, run, scan
from .commands.common import EXIT_BAD_INPUT, EXIT_OK
from .scenario import ScenarioError
from .terminal import clean

SUBCOMMANDS = (run, listing, report, diff, bench, explain, scan, doctor, install_browsers)
"""In the order `cors-lab --help` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand's parser, each knowing the function that executes it."""
    parser = argparse.ArgumentParser(
        prog="cors-lab", description="What real browsers do with a Flask API's CORS configuration."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for subcommand in SUBCOMMANDS:
        subcommand.add_parser(commands).set_defaults(execute=subcommand.execute)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """The console entry point: the subcommand's exit status (2 for bad input: options, scenario files, browsers)."""
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except BrokenPipeError:  # `cors-lab list | head`: the reader left; not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _dispatch(args: argparse.Namespace) -> int:
    try:
        return args.execute(args)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(clean(str(problem)), file=sys.stderr)
        count = len(exc.problems)
        print(f"cors-lab: {count} problem{'s' if count != 1 else ''} in scenario files", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrowserUnavailable as exc:
        print(f"cors-lab: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
