"""Sessions: `nox -s lab` runs the built-in scenarios; `nox -s tests` runs the test suite.

uv creates the virtualenvs when it is installed (much faster); plain virtualenv otherwise.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lab"]


@nox.session
def lab(session: nox.Session) -> None:
    """Install cors-lab and browsers, run the built-in scenarios, write reports/results.json."""
    session.install("-e", ".")
    session.run("cors-lab", "install-browsers")
    session.run("cors-lab", "run", "--out", "reports/results.json", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, in real browsers (installed first when missing)."""
    session.install("-e", ".[test]")
    session.run("cors-lab", "install-browsers")
    session.run("pytest", *(session.posargs or ["-n", "2", "-q"]))


@nox.session
def docs(session: nox.Session) -> None:
    """Run the library and regenerate the results tables in README.md and docs/ from it."""
    session.install("-e", ".")
    session.run("cors-lab", "install-browsers")
    session.run("cors-lab", "run", "--quiet", "--out", "reports/results.json")
    session.run("cors-lab", "report", "reports/results.json", "--summary", "--update", "README.md")
    session.run("cors-lab", "report", "reports/results.json", "--update", "docs/browser-behaviour.md")
