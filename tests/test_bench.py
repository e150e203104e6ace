"""`cors-lab bench` runs what the lab runs: https origins (routing, run-time CA), sandboxed frames, repeats.

Numbers are printed, never asserted: this checks that the three measurements ran on such scenarios and that the
output ends with one ratio line per engine, as documented.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import E2E, ROOT, lab_cli

pytestmark = pytest.mark.browser


def test_bench_measures_https_sandboxed_and_real_origin_scenarios(browsers: list) -> None:
    files = [
        E2E / "https-cookies.toml",
        E2E / "null-origin.toml",
        E2E / "preflight-cache.toml",
        ROOT / "scenarios" / "real-origins" / "production-and-dev-origins.toml",
    ]
    done = lab_cli("bench", *map(str, files), "--browser", "chromium", "--browser", "webkit")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"chromium: lab/loop=\d+\.\d\d lab/floor=\d+\.\d\d", lines[-2]), done.stdout
    assert re.fullmatch(r"webkit: lab/loop=\d+\.\d\d lab/floor=\d+\.\d\d", lines[-1]), done.stdout
    cases = sum(1 for f in files for line in f.read_text().splitlines() if line.strip() == "[[cases]]")
    assert f"chromium: {cases} cases; lab " in done.stdout


def test_bench_app_host_times_the_same_cells_described_and_hosted(browsers: list) -> None:
    done = lab_cli("bench", "--app-host", "--browser", "chromium")
    assert done.returncode == 0, done.stdout + done.stderr
    turns = [line for line in done.stdout.splitlines() if " ms a cell " in line]
    assert len(turns) == 9, done.stdout  # three kinds, three turns each
    # The same app described and as a user's project: every cell of every turn as the file expects it.
    assert all(line.endswith("(80 cells, 0 unexpected)") for line in turns), done.stdout
    assert sum("user's app in its host" in line for line in turns) == 3
