"""Hostile data from servers, browsers and scenario files stays text in every output (issue 8)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab.browsers.playwright import launch_options
from tests.conftest import lab_cli

pytestmark = pytest.mark.browser
HOSTILE = Path(__file__).parent / "hostile"


def test_hostile_values_are_escaped_in_terminal_markdown_and_html(browsers: list, tmp_path: Path) -> None:
    results = tmp_path / "hostile.json"
    done = lab_cli("run", str(HOSTILE), "--browser", "chromium", "--out", str(results))
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads(results.read_text())["results"]
    read = next(r for r in rows if r["read_headers"])["read_headers"]["X-Evil"]
    assert "<script>" in read and "\x1b[31m" in read, "the hostile header really reached the page"
    assert "\x1b" not in done.stdout and "\\x1b[31mred" in done.stdout  # shown, never interpreted
    explained = lab_cli("explain", "hostile:refused", str(HOSTILE), "--browser", "chromium")
    assert explained.returncode == 0 and "\x1b" not in explained.stdout
    markdown, page = tmp_path / "r.md", tmp_path / "r.html"
    assert lab_cli("report", str(results), "--markdown", str(markdown), "--html", str(page)).returncode == 0
    text = markdown.read_text()
    assert "<i>" not in text and "\x1b" not in text and "&lt;i&gt;x&lt;/i&gt; \\|" in text
    chromium = next(c for c in browsers if c.engine == "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            **launch_options("chromium", chromium.executable if chromium.system_binary else None)
        )
        tab = browser.new_page()
        tab.goto(page.as_uri())
        for box in range(tab.locator("td.cell .box").count()):
            tab.locator("td.cell .box").nth(box).click()
        tab.locator("td.cell .box.allowed").first.click()
        details = tab.locator("#details").inner_text()
        assert "<script>window.__pwned=1</script>" in details and "<i>x</i>" in details
        assert (
            tab.evaluate("window.__pwned") is None
            and tab.locator("#details script, #details img, #details i").count() == 0
        )
        browser.close()


def test_environment_secrets_never_reach_results_or_reports(browsers: list, tmp_path: Path) -> None:
    import os

    secret = "s3cr3t-token-7f1e9a"
    results = tmp_path / "r.json"
    environment = dict(os.environ, CORS_LAB_TEST_SECRET=secret, AWS_SECRET_ACCESS_KEY=secret)
    done = subprocess.run(
        [sys.executable, "-m", "lab", "run", str(HOSTILE), "--browser", "chromium", "--out", str(results)],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    assert done.returncode == 0, done.stderr
    report = tmp_path / "r.html"
    assert lab_cli("report", str(results), "--html", str(report), "--markdown", str(tmp_path / "r.md")).returncode == 0
    for text in (results.read_text(), report.read_text(), (tmp_path / "r.md").read_text(), done.stdout, done.stderr):
        assert secret not in text
