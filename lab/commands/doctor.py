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
    """0 when all three engines are usable, 1 otherwise."""
    from ..doctor import diagnose

    return EXIT_OK if diagnose(available_browsers(args), sys.stdout) else EXIT_MISMATCH
