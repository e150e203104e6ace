"""The version matrix for real: pin environments from PyPI, backends in pin processes, real browsers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

import pytest

from lab.report.cells import load_document
from lab.report.html import html_report
from tests.conftest import lab_cli

pytestmark = pytest.mark.browser
ROOT = Path(__file__).parent.parent
PATH_CASE = ROOT / "scenarios" / "flask-cors" / "resource-path-case.toml"
UPPER = "/API/data, upper case"


@pytest.fixture(scope="module")
def matrix(browsers: list, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """Two flask-cors releases that differ, one pin that cannot install and one that cannot start."""
    folder = tmp_path_factory.mktemp("matrix")
    pins = folder / "pins.toml"
    pins.write_text(
        '[[pin]]\nflask = "3.1"\nflask-cors = "5.0.1"\n\n[[pin]]\nflask = "3.1"\nflask-cors = "6.0"\n\n'
        '[[pin]]\nflask = "3.1"\nflask-cors = "99.0"\n\n'
        '[[pin]]\nflask = "2.0"\nflask-cors = "4.0.2"\nwerkzeug = "3.0"\n'
    )
    out = folder / "matrix.json"
    done = lab_cli(
        "run",
        str(PATH_CASE),
        "--pins",
        str(pins),
        "--browser",
        "chromium",
        "--browser",
        "webkit",
        "--envs",
        str(folder / "envs"),
        "--out",
        str(out),
    )
    assert done.returncode == 1, done.stdout + done.stderr  # the two broken pins are error cells
    singles = {}
    for version in ("5.0.1", "6.0"):
        singles[version] = folder / f"single-{version}.json"
        again = lab_cli(
            "run",
            str(PATH_CASE),
            "--flask",
            "3.1",
            "--flask-cors",
            version,
            "--browser",
            "chromium",
            "--envs",
            str(folder / "envs"),
            "--out",
            str(singles[version]),
        )
        assert again.returncode == 0, again.stdout + again.stderr
    return {"matrix": out, **singles, "folder": folder}


def _rows(path: Path) -> List[dict]:
    return json.loads(path.read_text())["results"]


def test_each_pin_runs_its_own_flask_cors(matrix: Dict[str, Path]) -> None:
    document = json.loads(matrix["matrix"].read_text())
    versions = {p["label"]: p for p in document["pins"]}
    assert versions["flask 3.1 / flask-cors 5.0.1"]["flask-cors"] == "5.0.1"
    assert versions["flask 3.1 / flask-cors 6.0"]["flask-cors"].startswith("6.0.")
    upper = {(r["pin"], r["browser"]): r for r in document["results"] if r["case"] == UPPER}
    for browser in ("chromium", "webkit"):
        assert upper[("flask 3.1 / flask-cors 5.0.1", browser)]["outcome"] == "allowed"
        assert upper[("flask 3.1 / flask-cors 6.0", browser)]["outcome"] == "blocked"
        assert (
            upper[("flask 3.1 / flask-cors 5.0.1", browser)]["matched"]
            and upper[("flask 3.1 / flask-cors 6.0", browser)]["matched"]
        )


def test_pins_that_cannot_install_or_start_are_error_cells(matrix: Dict[str, Path]) -> None:
    rows = _rows(matrix["matrix"])
    uninstallable = [r for r in rows if r["pin"] == "flask 3.1 / flask-cors 99.0"]
    assert uninstallable and all(r["outcome"] == "error" and "could not install" in r["reason"] for r in uninstallable)
    unstartable = [r for r in rows if r["pin"].startswith("flask 2.0 / flask-cors 4.0.2")]
    assert unstartable and all(
        r["outcome"] == "error" and "does not start: ImportError" in r["reason"] for r in unstartable
    )
    assert len([r for r in rows if r["outcome"] != "error"]) == 2 * 3 * 2, "the working pins ran every case"


def test_diff_shows_what_changed_with_evidence(matrix: Dict[str, Path]) -> None:
    changed = lab_cli("diff", str(matrix["5.0.1"]), str(matrix["6.0"]))
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert f"CHANGED flask-cors/resource-path-case :: {UPPER} [chromium]: allowed -> blocked" in changed.stdout
    assert "before: request GET /API/data -> 200 [Access-Control-Allow-Origin: http://app.localhost:" in changed.stdout
    assert "after:  request GET /API/data -> 200 [no CORS headers]" in changed.stdout
    assert "1 changed" in changed.stdout
    same = lab_cli("diff", str(matrix["6.0"]), str(matrix["6.0"]))
    assert same.returncode == 0 and "0 changed" in same.stdout
    garbage = matrix["folder"] / "garbage.json"
    garbage.write_text("{not json")
    unreadable = lab_cli("diff", str(garbage), str(matrix["6.0"]))
    assert unreadable.returncode == 2 and "cannot read results" in unreadable.stderr
    hostile = matrix["folder"] / "hostile-6.0.json"  # a server's header value that looks like markup stays text
    document = json.loads(matrix["6.0"].read_text())
    for row in document["results"]:
        for exchange in row["exchanges"]:
            exchange["response_headers"].append(["Access-Control-Expose-Headers", "<script>alert(1)</script>"])
    hostile.write_text(json.dumps(document))
    page = matrix["folder"] / "diff.html"
    shown = lab_cli("diff", str(matrix["5.0.1"]), str(hostile), "--html", str(page))
    assert shown.returncode == 1 and f"html: {page}" in shown.stdout
    html = page.read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<tr><td>") == 1 and UPPER.replace(",", "") in html.replace(",", "")
    assert "Access-Control-Allow-Origin: http://app.localhost:" in html  # the before side's headers
    assert "Known changes in between" in html and "showed up" in html
    merged = lab_cli("diff", str(matrix["matrix"]), str(matrix["matrix"]))
    assert "pin by pin" in merged.stdout and "0 changed" in merged.stdout
    # the two broken pins measured nothing: a check that could not see their cells does not pass
    assert (
        merged.returncode == 1 and "NOT MEASURED: " in merged.stdout and "cells are error or timeout" in merged.stdout
    )


def test_html_report_renders_filters_and_opens_details(matrix: Dict[str, Path], browsers: list, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from lab.browsers.playwright import launch_options

    document = load_document(matrix["matrix"])
    hostile = dict(
        document["results"][0],
        case='<img src=x onerror="window.__pwned=1">',
        console=["<script>window.__pwned=2</script>"],
    )
    document["results"].append(hostile)
    page_file = tmp_path / "report.html"
    page_file.write_text(html_report(document))
    chromium = next(c for c in browsers if c.engine == "chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            **launch_options("chromium", chromium.executable if chromium.system_binary else None)
        )
        page = browser.new_page()
        page.goto(page_file.as_uri())
        boxes = page.locator("td.cell .box")
        assert boxes.count() == len(document["results"])
        page.locator(f"tr.case:has-text('{UPPER}') .box.blocked").first.click()
        details = page.locator("#details").inner_text()
        assert "flask 3.1 / flask-cors 6.0" in details and "request: GET /API/data" in details
        outcomes: Dict[str, set] = {}
        for row in document["results"]:
            outcomes.setdefault(row["case"], set()).add(row["outcome"])
        page.check("#f-diff")
        assert page.locator("tr.case").count() == sum(1 for seen in outcomes.values() if len(seen) > 1)
        page.select_option("#f-pin", "flask 3.1 / flask-cors 5.0.1")
        assert page.locator("tr.case").count() == 0, "one pin, and the browsers agree on every case"
        page.select_option("#f-pin", "")
        page.uncheck("#f-diff")
        page.check("#f-fail")
        assert page.locator("tr.case").count() >= 3  # the error pins fail every case
        page.uncheck("#f-fail")
        disagreeing = {row["case"] for row in document["results"] if row.get("agrees") is False}
        page.check("#f-model")
        assert page.locator("tr.case").count() == len(disagreeing)
        page.uncheck("#f-model")
        page.locator(f"tr.case:has-text('{UPPER}') .box.blocked").first.click()
        assert (
            "The Fetch standard says: blocked: the response has no Access-Control-Allow-Origin header"
            in page.locator("#details").inner_text()
        )
        page.locator("tr.case:has-text('onerror') .box").first.click()
        assert page.evaluate("window.__pwned") is None
        assert '<img src=x onerror="window.__pwned=1">' in page.locator("#details h2").inner_text()
        assert "<script>window.__pwned=2</script>" in page.locator("#details").inner_text()
        browser.close()


def test_a_maintainers_unreleased_change_runs_as_a_pin(browsers: list, tmp_path: Path) -> None:
    """flask-cors 6.0.5's source with the case-sensitive path fix taken out, as a maintainer would try a change:
    the pin installs the local source and the browser shows the difference."""
    import shutil
    import subprocess

    from lab.pins import uv_binary

    installed = (
        tmp_path / "installed"
    )  # the released code, installed as files (uv is what builds the pins' environments)
    subprocess.run(
        [
            uv_binary() or "uv",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(installed),
            "flask-cors==6.0.5",
        ],
        check=True,
        timeout=300,
    )
    source = tmp_path / "flask_cors-6.0.5"  # a checkout with a change of its own
    shutil.copytree(installed / "flask_cors", source / "flask_cors")
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "flask-cors"\nversion = "6.0.5"\ndependencies = ["flask", "werkzeug"]\n'
        '[tool.setuptools]\npackages = ["flask_cors"]\n'
    )
    core = source / "flask_cors" / "core.py"
    text = core.read_text()
    assert "_resolve_pattern(pattern, ignore_case=False), opts)" in text
    core.write_text(
        text.replace(
            "_resolve_pattern(pattern, ignore_case=False), opts)", "_resolve_pattern(pattern, ignore_case=True), opts)"
        )
    )
    out = tmp_path / "local.json"
    done = lab_cli(
        "run",
        str(PATH_CASE),
        "--flask",
        "3.1",
        "--flask-cors",
        str(tmp_path / "flask_cors-6.0.5"),
        "--browser",
        "chromium",
        "--envs",
        str(tmp_path / "envs"),
        "--out",
        str(out),
    )
    assert done.returncode == 1, done.stdout + done.stderr  # /API/data is readable again: 6.0's expectation fails
    document = json.loads(out.read_text())
    assert (
        document["pins"][0]["label"].endswith("flask_cors-6.0.5 (local)")
        and document["pins"][0]["flask-cors"] == "6.0.5"
    )
    upper = next(r for r in document["results"] if r["case"] == UPPER)
    assert upper["outcome"] == "allowed" and upper["expected"] == "blocked"
