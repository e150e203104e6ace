"""`cors-lab install-browsers`: Playwright's browser builds, or the system's packages where downloads fail."""

from __future__ import annotations

import argparse

from .common import Subcommands


def add_parser(commands: Subcommands) -> argparse.ArgumentParser:
    """It takes no arguments."""
    return commands.add_parser(
        "install-browsers", help="install Playwright's browser builds, or the system's packages where downloads fail"
    )


def execute(_: argparse.Namespace) -> int:
    """0 when every engine is usable afterwards, 1 with instructions otherwise."""
    from ..install import install_browsers

    return install_browsers()
