"""`cors-lab diff`: the cells whose outcome changed between two results files (an upgrade check)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..terminal import clean
from .common import EXIT_MISMATCH, EXIT_OK, Subcommands, refuse


def add_parser(commands: Subcommands) -> argparse.ArgumentParser:
    """Its arguments: the old and the new results file, and an optional HTML page."""
    diff = commands.add_parser("diff", help="list the cells whose outcome changed between two results files")
    diff.add_argument("old", type=Path)
    diff.add_argument("new", type=Path)
    diff.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="also write the changed cells side by side as a self-contained HTML page",
    )
    return diff


def execute(args: argparse.Namespace) -> int:
    """1 when a cell changed or was not measured in both (an upgrade check that saw nothing must not pass), else 0."""
    from ..report.cells import ResultsInputError, load_document
    from ..report.diff import compare
    from ..report.releases import upgrade_coverage

    try:
        old, new = load_document(args.old), load_document(args.new)
    except ResultsInputError as exc:
        return refuse(clean(exc))
    comparison = compare(old, new)
    coverage = upgrade_coverage(old, new)
    for line in comparison.report() + coverage:
        print(clean(line))
    if args.html:
        from ..report.diffhtml import diff_html

        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(diff_html(comparison, coverage, str(args.old), str(args.new)), encoding="utf-8")
        print(f"html: {args.html}")
    return EXIT_MISMATCH if comparison.failed else EXIT_OK
