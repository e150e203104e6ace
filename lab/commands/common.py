"""What several subcommands share: exit statuses, option groups, choosing scenarios and browsers, and refusing input."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Sequence

from ..browsers.base import Candidate
from ..browsers.discovery import (
    find_browsers,
    parse_capabilities,
    playwright_server_candidate,
    remote_candidate,
    select_browsers,
)
from ..browsers.drivers import DriverChoiceError, parse_driver_choice
from ..scenario import Problem, Scenario, ScenarioError, load_scenarios
from ..scenario.load import LIBRARY

EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT = 0, 1, 2
Subcommands = argparse._SubParsersAction
"""What `add_subparsers` returns: each subcommand's module adds its parser to it."""


def refuse(message: str) -> int:
    """Say why the input cannot be used (`cors-lab: ...` on stderr) and return the bad-input status."""
    print(f"cors-lab: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def command_line_problem(message: str) -> Problem:
    """A wrong option, reported like a problem in a scenario file (and with them), so that it exits 2 the same way."""
    return Problem(Path("command line"), 0, message)


def selection_options(parser: argparse.ArgumentParser) -> None:
    """-k, --group and --tag: which scenarios of the given files and folders to use."""
    parser.add_argument("-k", "--select", metavar="TEXT", help="only scenarios whose id contains TEXT")
    parser.add_argument(
        "--group", action="append", default=[], metavar="GROUP", help="only this group (folder); repeatable"
    )
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="only scenarios with this tag (for example security); repeatable",
    )


def remote_options(parser: argparse.ArgumentParser) -> None:
    """--webdriver and --connect: browsers on other machines, besides the ones found here."""
    parser.add_argument(
        "--webdriver",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="also use a browser behind a W3C WebDriver endpoint (safari=http://127.0.0.1:4444); repeatable",
    )
    parser.add_argument(
        "--webdriver-capabilities", metavar="JSON|@FILE", help="extra capabilities for --webdriver sessions"
    )
    parser.add_argument(
        "--connect",
        action="append",
        default=[],
        metavar="ENGINE=WS_URL",
        help="also use a browser from a Playwright server (`playwright run-server`): chromium=ws://host:3000/",
    )
    parser.add_argument(
        "--driver",
        action="append",
        default=[],
        metavar="DRIVER|ENGINE=DRIVER",
        help="playwright or native (the lab's own CDP/BiDi/WebDriver clients) where both can drive a browser:"
        " for every engine, or one (firefox=playwright); repeatable (default: native for stock browsers,"
        " playwright for Playwright's builds; `cors-lab doctor` lists both)",
    )
    parser.add_argument(
        "--connect-executable",
        action="append",
        default=[],
        metavar="ENGINE=PATH",
        help="the browser binary on that server's machine (the server needs --unsafe)",
    )


def load_selected(args: argparse.Namespace) -> List[Scenario]:
    """The scenarios under `args.paths` (default: the built-in library) that -k, --group and --tag select."""

    def selected(scenario: Scenario) -> bool:
        return (
            (not args.select or args.select in scenario.id)
            and (not args.group or scenario.group in args.group)
            and (not args.tag or bool(set(args.tag) & set(scenario.tags)))
        )

    return load_scenarios(list(args.paths) or [LIBRARY], selected)


def available_browsers(args: argparse.Namespace) -> List[Candidate]:
    """Every browser found here plus the remote ones the options name (--webdriver, --connect)."""
    extra = parse_capabilities(args.webdriver_capabilities) if args.webdriver_capabilities else None
    remotes = [remote_candidate(spec, extra) for spec in args.webdriver]
    executables = dict(value.partition("=")[::2] for value in args.connect_executable)
    remotes += [playwright_server_candidate(spec, executables) for spec in args.connect]
    launch_args: Dict[str, List[str]] = {}
    for value in getattr(args, "browser_arg", []):
        engine, separator, argument = value.partition("=")
        if not separator or engine not in ("chromium", "firefox", "webkit"):
            raise ScenarioError([command_line_problem(f"--browser-arg {value!r}: expected ENGINE=ARG")])
        launch_args.setdefault(engine, []).append(argument)
    try:
        drivers = parse_driver_choice(getattr(args, "driver", []))
        return find_browsers(launch_args, drivers) + remotes
    except DriverChoiceError as exc:
        raise ScenarioError([command_line_problem(str(exc))]) from exc


def chosen_browsers(args: argparse.Namespace) -> List[Candidate]:
    """The browsers --browser asks for among the available ones (all of them without --browser)."""
    return select_browsers(args.browser, available_browsers(args))


def local_browsers(requested: Sequence[str]) -> List[Candidate]:
    """The requested browsers among those found on this machine (remote ones cannot be measured for cost)."""
    return select_browsers(requested, find_browsers())


def check_routable(scenarios: Sequence[Scenario], candidates: Sequence[Candidate]) -> None:
    """Origins served as written reach only browsers the lab launched with its routing: say so before running."""
    unroutable = [c.name for c in candidates if not c.routable]
    if not unroutable:
        return
    problems = [
        Problem(
            s.path,
            o.line,
            f"origin {o.name} = {o.as_written!r} is served through the lab's routing (a proxy"
            f" it gives the browsers it launches), which {', '.join(unroutable)} cannot use;"
            " run it with local browsers, or write it as http(s)://NAME.localhost",
        )
        for s in scenarios
        for o in s.origins.values()
        if o.as_written
    ]
    if problems:
        raise ScenarioError(problems)
