"""The README's GitHub Actions recipe (docs/ci/github-actions.yml): a valid workflow whose steps work here.

GitHub itself cannot run in a test: the workflow is validated against GitHub's workflow schema (vendored by
check-jsonschema), its matrix step is run as written, and its merge step's `cors-lab report --check` is run on
real results files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from lab.pins import load_pins
from tests.conftest import E2E, ROOT, lab_cli

WORKFLOW = ROOT / "docs" / "ci" / "github-actions.yml"


def _steps(job: str) -> list:
    return YAML(typ="safe").load(WORKFLOW.read_text())["jobs"][job]["steps"]


def test_the_workflow_is_valid_for_github() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_matrix_is_one_lab_pin_session_per_pin(tmp_path: Path) -> None:
    """The `pins` job's script, as GitHub runs it (bash, GITHUB_OUTPUT), from the repository root."""
    script = next(step["run"] for step in _steps("pins") if step.get("id") == "list")
    output = tmp_path / "github-output"
    bin_dir = str(Path(sys.executable).parent)
    done = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "GITHUB_OUTPUT": str(output), "PATH": bin_dir + os.pathsep + os.environ["PATH"]},
    )
    assert done.returncode == 0, done.stderr
    name, _, value = output.read_text().strip().partition("=")
    assert name == "sessions"
    pins = load_pins(ROOT / "pins.toml")
    assert json.loads(value) == [f"lab_pin(flask-{p.flask}-cors-{p.flask_cors})" for p in pins]


@pytest.mark.browser
def test_the_merge_step_fails_when_a_cell_is_not_as_expected(tmp_path: Path) -> None:
    merge = next(step["run"] for step in _steps("report") if "cors-lab report" in step.get("run", ""))
    assert merge.split()[:3] == ["cors-lab", "report", "reports/pins/*.json"] and "--check" in merge
    passing = tmp_path / "passing.json"
    assert lab_cli("run", str(E2E / "basics.toml"), "--browser", "chromium", "--out", str(passing)).returncode == 0
    done = lab_cli("report", str(passing), "--check", "--html", str(tmp_path / "report.html"))
    assert done.returncode == 0 and " 0 unexpected" in done.stdout, done.stdout + done.stderr
    assert (tmp_path / "report.html").exists()
    # The same file with one scenario's expectation written wrongly: measured again, its cells are unexpected.
    wrong = tmp_path / "wrong.toml"
    wrong.write_text((E2E / "basics.toml").read_text().replace('expect = "allowed"', 'expect = "blocked"', 1))
    failing = tmp_path / "failing.json"
    assert lab_cli("run", str(wrong), "--browser", "chromium", "--out", str(failing)).returncode == 1
    done = lab_cli("report", str(failing), "--check", "--markdown", str(tmp_path / "report.md"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert " 1 unexpected" in done.stdout and (tmp_path / "report.md").exists()
