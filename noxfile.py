"""Sessions:

- `nox -s lab`: the version matrix of pins.toml (or `-- --full`, or `-- --flask 3.1.2 --flask-cors 5.0.1`)
  in every browser found, then its report in reports/ (results.json, Markdown, HTML).
- `nox -s lab_pin`: the same pins as one parametrized session each (for CI matrices); `nox -l` lists them.
- `nox -s upgrade_check -- OLD NEW [--flask VERSION]`: two flask-cors releases, same Flask and browsers, and their diff.
- `nox -s tests`: the test suite.  `nox -s docs`: regenerate the committed results tables and
  docs/flask-cors-releases.md (from a run of pins-releases.toml).
- `nox -s lab -- --pins pins-releases.toml`: the whole library on every release that changed something.

The matrix runs inside one `lab` session on purpose: the lab makes one environment
per pin itself (cached in .cors-lab/envs) and serves every pin's backends to one set
of browsers, so N pins cost N installs once and the browsers launch once, instead
of N nox sessions each launching three browsers. nox's own virtualenvs (and the pin
environments) use uv when it is installed, virtualenv / venv otherwise.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).parent))
from lab.pins import load_pins  # noqa: E402  (the pins file is the single source of the matrix)

nox.options.default_venv_backend = "uv|virtualenv"
# Installed packages come with their bytecode (pip's default; uv only when asked): every `cors-lab` process and
# pin host imports Flask and Playwright, and where PYTHONDONTWRITEBYTECODE is set each would compile them again.
os.environ.setdefault("UV_COMPILE_BYTECODE", "1")
nox.options.sessions = ["lab"]

PIN_OPTIONS = ("--pins", "--flask", "--flask-cors")
REPORTS = "reports"


def _setup(session: nox.Session, extras: str = "") -> None:
    session.install("-e", f".{extras}")
    session.run("python", "-m", "compileall", "-q", "lab", silent=True)  # the lab's own modules, for the same reason
    session.run("cors-lab", "install-browsers")


def _report(session: nox.Session, results: str, name: str) -> None:
    # No --json: with one results file it would be a second copy of it (--json is for merging several files).
    session.run("cors-lab", "report", results, "--markdown", f"{REPORTS}/{name}.md", "--html", f"{REPORTS}/{name}.html")


@nox.session
def lab(session: nox.Session) -> None:
    """Run the built-in scenarios across the version matrix and write the merged report."""
    _setup(session)
    arguments = list(session.posargs)
    if not any(option in arguments for option in PIN_OPTIONS):
        arguments = ["--pins", "pins.toml", *arguments]
    # Exit status 1 (an outcome differs from its expectation on some pin) is a finding for the report, not a crash.
    session.run("cors-lab", "run", "--quiet", "--out", f"{REPORTS}/results.json", *arguments, success_codes=[0, 1])
    _report(session, f"{REPORTS}/results.json", "report")
    session.log(f"report: {REPORTS}/report.html, {REPORTS}/report.md; every cell: {REPORTS}/results.json")


PINS = load_pins(Path(__file__).parent / "pins.toml")


@nox.session
@nox.parametrize("pin", [nox.param(pin, id=f"flask-{pin.flask}-cors-{pin.flask_cors}") for pin in PINS])
def lab_pin(session: nox.Session, pin) -> None:  # type: ignore[no-untyped-def]
    """One pin per session, for CI matrices (one job per pin): the pin's Flask and flask-cors are installed into this
    session's venv and the backends run in the lab's process. Merge the jobs' files with
    `cors-lab report reports/pins/*.json --html reports/report.html`."""
    session.install("-e", ".", *pin.requirements())
    session.run("cors-lab", "install-browsers")
    out = f"{REPORTS}/pins/flask-{pin.flask}-cors-{pin.flask_cors}.json"
    session.run("cors-lab", "run", "--quiet", "--out", out, *session.posargs, success_codes=[0, 1])


@nox.session
def upgrade_check(session: nox.Session) -> None:
    """`-- OLD NEW [--flask VERSION] [--python VERSION]`: what changes in the browsers when flask-cors goes from OLD to NEW, and which
    known changes of the releases in between (lab/changes.toml) showed up as changed cells."""
    arguments = list(session.posargs)
    flask = "3.1"
    if "--flask" in arguments:
        index = arguments.index("--flask")
        flask = arguments[index + 1]
        del arguments[index : index + 2]
    if len(arguments) < 2:
        session.error(
            "usage: nox -s upgrade_check -- OLD NEW [--flask VERSION] [--python VERSION] [cors-lab run options]"
        )
    old, new, extra = arguments[0], arguments[1], arguments[2:]
    _setup(session)
    for version in (old, new):
        session.run(
            "cors-lab",
            "run",
            "--quiet",
            "--flask",
            flask,
            "--flask-cors",
            version,
            "--out",
            f"{REPORTS}/upgrade-{version}.json",
            *extra,
            success_codes=[0, 1],
        )
    session.run("cors-lab", "diff", f"{REPORTS}/upgrade-{old}.json", f"{REPORTS}/upgrade-{new}.json")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, in real browsers (installed first when missing)."""
    _setup(session, "[test]")
    if not session.posargs:  # the whole suite: the tree's format and lint first (seconds), as CI runs it
        session.run("ruff", "format", "--check", ".")
        session.run("ruff", "check", ".")
    session.run("pytest", *(session.posargs or ["-n", "2", "-q"]))


@nox.session
def docs(session: nox.Session) -> None:
    """Run the default matrix and regenerate the results tables in README.md and docs/ from it; then the release
    history (pins-releases.toml) for docs/flask-cors-releases.md."""
    _setup(session)
    session.run(
        "cors-lab", "run", "--quiet", "--pins", "pins.toml", "--out", f"{REPORTS}/results.json", success_codes=[0, 1]
    )
    session.run("cors-lab", "report", f"{REPORTS}/results.json", "--summary", "--update", "README.md")
    session.run("cors-lab", "report", f"{REPORTS}/results.json", "--update", "docs/browser-behaviour.md")
    session.run("cors-lab", "report", f"{REPORTS}/results.json", "--claims", "docs/claims.md")
    # The release history: the flask-cors, flask and local-network groups on every release that changed something and
    # the one before (local-network: the Private Network Access releases, decided by what browsers do now).
    session.run(
        "cors-lab",
        "run",
        "--quiet",
        "--group",
        "flask-cors",
        "--group",
        "flask",
        "--group",
        "local-network",
        "--pins",
        "pins-releases.toml",
        "--out",
        f"{REPORTS}/releases.json",
        success_codes=[0, 1],
    )
    session.run(
        "cors-lab",
        "report",
        f"{REPORTS}/releases.json",
        "--releases",
        "docs/flask-cors-releases.md",
        "--html",
        f"{REPORTS}/releases.html",
    )
