"""CI formats from a real run: JUnit XML and GitHub Actions annotations, located at the scenario file's case line."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.browser

SCENARIO = '''title = "ci formats"
[backend]
cors = { origins = "{app}" }

[[backend.routes]]
path = "/api/data"

[[cases]]
name = "the app reads"
path = "/api/data"
expect = "allowed"

[[cases]]
name = "wrongly expected: the app, refused"
path = "/api/data"
expect = "blocked"
'''


def test_junit_and_github_annotations_point_at_the_case(browsers: list, tmp_path: Path) -> None:
    scenario = tmp_path / "ci" / "formats.toml"
    scenario.parent.mkdir()
    scenario.write_text(SCENARIO)
    junit = tmp_path / "junit.xml"
    done = subprocess.run([sys.executable, "-m", "lab", "run", str(scenario), "--browser", "chromium", "--junit", str(junit)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=dict(os.environ, GITHUB_ACTIONS="true"))
    assert done.returncode == 1, done.stdout + done.stderr
    root = ElementTree.parse(junit).getroot()
    cases = root.findall("./testsuite/testcase")
    assert root.get("tests") == "2" and root.get("failures") == "1" and root.get("errors") == "0" and len(cases) == 2
    failing = next(c for c in cases if c.find("failure") is not None)
    assert failing.get("name").startswith("wrongly expected: the app, refused [chromium] (flask ") and failing.get("line") == "13"
    assert failing.get("file") == str(scenario) and failing.find("failure").get("message").startswith("allowed, expected blocked")
    annotations = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 1 and annotations[0].startswith(
        "::error file=ci/formats.toml,line=13,title=cors-lab chromium::ci/formats :: wrongly expected: the app, refused [chromium]")
    assert annotations[0].endswith(": allowed, expected blocked")
    quiet = subprocess.run([sys.executable, "-m", "lab", "run", str(scenario), "--browser", "chromium"],
                           capture_output=True, text=True, timeout=120, cwd=ROOT,
                           env={k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"})
    assert "::error" not in quiet.stdout  # annotations only inside GitHub Actions
