"""`cors-lab doctor`: which browsers are usable here, how each is driven, and what to install for the others."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_MISMATCH, EXIT_OK, Subcommands, available_browsers, remote_options


def add_parser(commands: Subcommands) -> argparse.ArgumentParser:
    """Its arguments: remote browsers to diagnose besides the local ones."""
    doctor = commands.add_parser("doctor", help="which browsers are usable here, how each is driven, what to install")
    remote_options(doctor)
    return doctor


def execute(args: argparse.Namespace) -> int:
    """0 when all three engines are usable (with the drivers a run would use), 1 otherwise."""
    from ..browsers.discovery import KNOWN, every_driver
    from ..doctor import diagnose

    chosen = available_browsers(args)
    local = {c.engine: c.driver for c in chosen if c.name in KNOWN}
    others = [candidate for _, candidate in every_driver(list(local)) if candidate.driver != local[candidate.engine]]
    return EXIT_OK if diagnose(chosen, sys.stdout, others) else EXIT_MISMATCH
