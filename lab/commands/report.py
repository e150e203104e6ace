"""`cors-lab report`: merge results files into JSON, Markdown and HTML, the claims and releases tables, or a CI check."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..results import failed, passed, unsupported
from ..terminal import clean, mismatches, not_measurable
from .common import EXIT_MISMATCH, EXIT_OK, Subcommands, refuse


def add_parser(commands: Subcommands) -> argparse.ArgumentParser:
    """Its arguments: the results files, and which documents to write from them."""
    report = commands.add_parser("report", help="merge results files into JSON, Markdown and HTML reports")
    report.add_argument("results", type=Path, nargs="+", help="results JSON files written by `cors-lab run --out`")
    report.add_argument("--json", type=Path, metavar="FILE", help="write the merged results here")
    report.add_argument("--markdown", type=Path, metavar="FILE", help="write Markdown tables here")
    report.add_argument("--html", type=Path, metavar="FILE", help="write the self-contained HTML report here")
    report.add_argument(
        "--update", type=Path, metavar="MARKDOWN", help="replace the <!-- results:begin/end --> block in this file"
    )
    report.add_argument("--summary", action="store_true", help="Markdown: one row per scenario instead of one per case")
    report.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when any merged cell is not as expected, listing them (the merge step of a CI matrix)",
    )
    report.add_argument(
        "--releases",
        type=Path,
        metavar="MARKDOWN",
        help="write what each flask-cors / Flask / Werkzeug release changed in the browsers (from a run of"
        " pins-releases.toml and lab/changes.toml)",
    )
    report.add_argument(
        "--claims",
        type=Path,
        metavar="MARKDOWN",
        help="write the claims table (claim, source, verdict, evidence), or update its marked block",
    )
    return report


def execute(args: argparse.Namespace) -> int:
    """Without a file to write, the Markdown table goes to stdout; with --check, 1 when a merged cell is unexpected."""
    import json

    from ..report.cells import ResultsInputError, load_document, merge
    from ..report.html import html_report
    from ..report.markdown import BEGIN, results_table, summary_table, update_between_markers

    try:
        document = merge([load_document(path) for path in args.results])
    except ResultsInputError as exc:
        return refuse(clean(exc))
    command = " ".join(
        ["cors-lab report", *map(str, args.results)]
        + (["--summary"] if args.summary else [])
        + ([f"--update {args.update}"] if args.update else [])
    )
    table = (summary_table if args.summary else results_table)(document, command)
    written = []
    for path, content in (
        (args.json, lambda: json.dumps(document, indent=1) + "\n"),
        (args.markdown, lambda: table),
        (args.html, lambda: html_report(document)),
    ):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content(), encoding="utf-8")
            written.append(str(path))
    if args.claims:
        from ..report.claims import claims_table

        claims = claims_table(
            document, " ".join(["cors-lab report", *map(str, args.results), f"--claims {args.claims}"])
        )
        if args.claims.exists() and BEGIN in args.claims.read_text(encoding="utf-8"):
            update_between_markers(args.claims, claims)
        else:
            args.claims.write_text(claims, encoding="utf-8")
        written.append(str(args.claims))
    if args.releases:
        from ..report.releases import releases_markdown

        command_line = " ".join(["cors-lab report", *map(str, args.results), f"--releases {args.releases}"])
        args.releases.parent.mkdir(parents=True, exist_ok=True)
        args.releases.write_text(releases_markdown(document, command_line), encoding="utf-8")
        written.append(str(args.releases))
    if args.update:
        try:
            update_between_markers(args.update, table)
        except (OSError, ValueError) as exc:
            return refuse(str(exc))
        written.append(str(args.update))
    if written:
        print("wrote " + ", ".join(written))
    elif not args.check:
        print(table, end="")
    if args.check:
        rows = document["results"]
        unexpected = sum(1 for r in rows if failed(r))
        skipped = sum(1 for r in rows if unsupported(r))
        print(
            f"{len(rows)} cells in {len(args.results)} file(s): {len(rows) - unexpected - skipped} as expected,"
            f" {unexpected} unexpected"
        )
        for line in not_measurable(rows) + mismatches(rows):
            print(line)
        return EXIT_OK if passed(rows) else EXIT_MISMATCH  # unsupported cells neither pass nor fail
    return EXIT_OK
