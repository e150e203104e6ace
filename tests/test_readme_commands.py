"""The README's commands are CI's: `.ci/run` runs the README's test command and nothing else that installs or runs.

A green CI must not hide a set-up step that a newcomer following the README would miss.
"""

from __future__ import annotations

import re
from typing import List

from tests.conftest import ROOT


def readme_commands() -> List[str]:
    """The shell commands of the README's "The two commands" section, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    return [
        line.strip()
        for block in re.findall(r"```sh\n(.*?)```", section, re.S)
        for line in block.splitlines()
        if line.strip()
    ]


def ci_commands() -> List[str]:
    """What `.ci/run` runs, less its shell settings (set, cd to the checkout, exported variables) and comments."""
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    return [
        line.strip()
        for line in lines
        if line.strip() and not line.startswith("#") and not re.match(r"(set |cd |export [A-Z_]+=)", line.strip())
    ]


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    setup_and_lab, tests = readme_commands()
    assert setup_and_lab == "python3 -m pip install nox && nox -s lab"
    assert tests == "python3 -m pip install nox && nox -s tests"
    assert ci_commands() == [tests], "`.ci/run` must run the README's test command and nothing else"
