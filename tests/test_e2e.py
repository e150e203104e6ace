"""End to end: real Flask servers on loopback, real Chromium and Firefox."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Tuple

import pytest

from lab.browsers import bidi as bidi_driver
from lab.browsers import cdp as cdp_driver
from lab.browsers import playwright as playwright_driver
from lab.browsers import webdriver as webdriver_driver
from lab.results import ResultRow
from lab.scenario import load_scenarios
from tests.conftest import E2E, ENGINES, run_rows

pytestmark = pytest.mark.browser
Cells = Dict[Tuple[str, str, str], ResultRow]


@pytest.mark.parametrize("engine", ENGINES)
def test_outcomes_and_evidence(e2e_cells: Cells, engine: str) -> None:
    def cell(case: str) -> ResultRow:
        return e2e_cells[("e2e/basics", case, engine)]

    for (scenario, _, browser), row in e2e_cells.items():
        if scenario == "e2e/basics" and browser == engine:
            assert row.matched, (row.case, row.outcome, row.expected, row.error, row.console)

    simple = cell("simple GET from the allowed origin")
    assert (simple.outcome, simple.status, simple.preflight) == ("allowed", 200, False)
    assert simple.read_headers == {"X-Exposed": "yes", "X-Hidden": None}
    assert "x-exposed" in simple.readable_headers and "x-hidden" not in simple.readable_headers
    assert simple.exchanges[0]["request_headers"]["Origin"].startswith("http://app.localhost:")

    refused = cell("simple GET from another origin")
    assert refused.outcome == "blocked" and refused.status is None and refused.error
    sent = dict(refused.exchanges[0]["response_headers"])
    assert "Access-Control-Allow-Origin" not in sent, "the server answered without CORS headers"
    if engine == "chromium":
        assert any("blocked by CORS policy" in m for m in refused.console), refused.console

    put = cell("PUT with JSON is preflighted and allowed")
    assert put.preflight and [e["kind"] for e in put.exchanges] == ["preflight", "request"]
    assert put.exchanges[0]["request_headers"]["Access-Control-Request-Method"] == "PUT"

    bad_header = cell("header not in allow_headers fails the preflight")
    assert bad_header.outcome == "blocked" and bad_header.preflight
    assert [e["kind"] for e in bad_header.exchanges] == ["preflight"], "the actual request must never be sent"

    credentialed = cell("credentials include with an explicit origin")
    assert ["Access-Control-Allow-Credentials", "true"] in credentialed.exchanges[0]["response_headers"]

    boom = cell("500 keeps its CORS headers")
    assert (boom.outcome, boom.status) == ("allowed", 500)


@pytest.mark.parametrize("engine", ENGINES)
def test_lab_failures_are_recorded_and_the_run_goes_on(e2e_cells: Cells, engine: str) -> None:
    broken = e2e_cells[("e2e/broken-backend", "any case", engine)]
    assert broken.outcome == "error" and "nosuchconverter" in broken.reason
    hung = e2e_cells[("e2e/faults", "hung route", engine)]
    assert hung.outcome == "timeout"
    assert [e["status"] for e in hung.exchanges] == [None], "the server saw the request and never answered"
    after = e2e_cells[("e2e/faults", "route after the hung one", engine)]
    assert after.outcome == "allowed"
    reset = e2e_cells[("e2e/faults", "route that resets the connection", engine)]
    assert reset.outcome == "error" and "connection reset" in reset.reason
    assert reset.exchanges and all(e["status"] is None for e in reset.exchanges)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_repeated_fetch_shows_the_preflight_cache(e2e_cells: Cells, engine: str) -> None:
    cached = e2e_cells[("e2e/preflight-cache", "Max-Age 600: one preflight for two PUTs", engine)]
    assert [a["outcome"] for a in cached.attempts] == ["allowed", "allowed"]
    assert [e["kind"] for e in cached.exchanges] == ["preflight", "request", "request"] and cached.preflights == 1
    uncached = e2e_cells[("e2e/preflight-cache", "Max-Age 0: a preflight before each PUT", engine)]
    assert [e["kind"] for e in uncached.exchanges] == ["preflight", "request", "preflight", "request"]
    assert uncached.preflights == 2


def test_https_origins_serve_secure_cookies_and_show_mixed_content(e2e_cells: Cells) -> None:
    for engine in ENGINES:
        twice = e2e_cells[("e2e/https-cookies", "credentialed fetch twice: is the Secure cookie sent back?", engine)]
        assert twice.outcome == "allowed" and len(twice.exchanges) == 2
        assert twice.exchanges[0]["request_headers"]["Origin"].startswith("https://app.localhost:")
        assert "Cookie" not in twice.exchanges[0]["request_headers"]
        assert twice.cookies_sent == ("Cookie" in twice.exchanges[1]["request_headers"])
        mixed = e2e_cells[("e2e/https-cookies", "https page fetches an http origin", engine)]
        assert mixed.matched, (engine, mixed.outcome)
    # Measured with Firefox ESR 153: a partitioned SameSite=None; Secure cookie goes back to the API.
    firefox = e2e_cells[("e2e/https-cookies", "credentialed fetch twice: is the Secure cookie sent back?", "firefox")]
    assert firefox.exchanges[1]["request_headers"]["Cookie"] == "sid=1"
    webkit_mixed = e2e_cells[("e2e/https-cookies", "https page fetches an http origin", "webkit")]
    assert webkit_mixed.exchanges == [], "WebKit refuses mixed content before sending anything"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_sandboxed_iframe_fetches_with_the_null_origin(e2e_cells: Cells, engine: str) -> None:
    allowed = e2e_cells[("e2e/null-origin", "ACAO null lets the sandboxed page read", engine)]
    refused = e2e_cells[("e2e/null-origin", "ACAO of the embedding page does not", engine)]
    assert (allowed.outcome, refused.outcome) == ("allowed", "blocked")
    assert [e["request_headers"]["Origin"] for e in allowed.exchanges + refused.exchanges] == ["null", "null"]


def _observed(cells: Cells) -> Dict[Tuple[str, str, str], tuple]:
    return {
        key: (
            r.outcome,
            r.status,
            r.preflight,
            sorted(r.readable_headers or {}),
            r.read_headers,
            [(e["kind"], e["request_headers"].get("Cookie")) for e in r.exchanges],
        )
        for key, r in cells.items()
    }


def test_shuffled_runs_give_identical_cells(browsers: list, e2e_cells: Cells) -> None:
    shuffled = [run_rows([E2E], browsers, seed=seed) for seed in (1, 2)]
    assert _observed(shuffled[0]) == _observed(e2e_cells)
    assert _observed(shuffled[1]) == _observed(e2e_cells)


def test_several_instances_per_browser_measure_every_cell_once(browsers: list, e2e_cells: Cells) -> None:
    from lab.run import RunOptions, run_lab
    from lab.scenario import load_scenarios
    from tests.conftest import Collect

    sink = Collect()
    assert run_lab(load_scenarios([E2E]), browsers, RunOptions(2.0, 3, {"*": 2}), sink)
    keys = [(r.scenario, r.case, r.browser) for r in sink.rows]
    assert len(keys) == len(set(keys)) == len(e2e_cells)
    assert _observed({key: row for key, row in zip(keys, sink.rows)}) == _observed(e2e_cells)


def test_cookies_set_by_one_case_never_reach_another(
    browsers: list, e2e_cells: Cells, monkeypatch: pytest.MonkeyPatch
) -> None:
    for engine in ENGINES:
        row = e2e_cells[("e2e/isolation", "same-origin fetch that must not carry it", engine)]
        assert all("Cookie" not in e["request_headers"] for e in row.exchanges)
        assert all(e2e_cells[("e2e/isolation", f"preflighted PUT {n}", engine)].preflight for n in ("one", "two"))
    # Control: without the lab's clearing, the cookie does leak, so the check above can fail.
    monkeypatch.setattr(playwright_driver.PlaywrightBrowser, "clear_cookies", lambda self, origins: None)
    monkeypatch.setattr(webdriver_driver.WebDriverBrowser, "clear_cookies", lambda self, origins: None)
    monkeypatch.setattr(bidi_driver.BiDiBrowser, "clear_cookies", lambda self, origins: None)
    monkeypatch.setattr(cdp_driver.CDPBrowser, "clear_cookies", lambda self, origins: None)
    leaky = run_rows([E2E / "isolation.toml"], browsers)
    for engine in ENGINES:
        row = leaky[("e2e/isolation", "same-origin fetch that must not carry it", engine)]
        assert row.exchanges[0]["request_headers"].get("Cookie") == "lab_session=1"


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, timeout=timeout)


def test_cli_run_writes_the_results_file(browsers: list, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = _cli("run", str(E2E / "basics.toml"), "--browser", "chromium", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 cells" in done.stdout and "6 as expected, 0 unexpected" in done.stdout
    assert "servers answered 7 of 7 requests" in done.stdout  # five requests and two preflights, all answered
    document = json.loads(out.read_text())
    assert document["complete"] is True
    assert set(document["environment"]) >= {"python", "flask", "flask-cors", "werkzeug", "playwright"}
    assert document["browsers"][0]["engine"] == "chromium" and document["browsers"][0]["version"]
    row = document["results"][0]
    assert set(row) >= {
        "scenario",
        "case",
        "browser",
        "outcome",
        "expected",
        "status",
        "preflight",
        "error",
        "exchanges",
    }
    assert not list(tmp_path.glob("*.partial.jsonl"))


def test_cli_exit_1_on_mismatch_and_2_on_unknown_browser(browsers: list, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(
        (E2E / "basics.toml")
        .read_text()
        .replace(
            'name = "simple GET from another origin"\npage = "evil"\npath = "/data"\nexpect = "blocked"',
            'name = "simple GET from another origin"\npage = "evil"\npath = "/data"\nexpect = "allowed"',
        )
    )
    done = _cli("run", str(wrong), "--browser", "firefox")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "blocked (want allowed)" in done.stdout
    unknown = _cli("run", str(wrong), "--browser", "safari")
    assert (
        unknown.returncode == 2 and "unknown browser 'safari'" in unknown.stderr and "Traceback" not in unknown.stderr
    )


def test_ctrl_c_keeps_every_measured_cell(browsers: list, tmp_path: Path) -> None:
    out = tmp_path / "interrupted.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "lab", "run", str(E2E), "--browser", "chromium", "--timeout", "60", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    partial = out.with_name(out.name + ".partial.jsonl")
    deadline = time.time() + 60
    while time.time() < deadline and (not partial.exists() or '"row"' not in partial.read_text()):
        time.sleep(0.1)
    streamed = [json.loads(line) for line in partial.read_text().splitlines()]
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    document = json.loads(out.read_text())
    assert document["complete"] is False
    kept = {(r["scenario"], r["case"]) for r in document["results"]}
    assert {(r["row"]["scenario"], r["row"]["case"]) for r in streamed if "row" in r} <= kept
    total = sum(len(s.cases) for s in load_scenarios([E2E]))
    assert 0 < len(kept) < total


def test_two_runs_at_once_do_not_collide(browsers: list, tmp_path: Path) -> None:
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lab",
                "run",
                str(E2E / "basics.toml"),
                "--browser",
                "chromium",
                "--out",
                str(tmp_path / f"run{i}.json"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    ports = [
        {
            row["exchanges"][0]["request_headers"]["Host"]
            for row in json.loads((tmp_path / f"run{i}.json").read_text())["results"]
        }
        for i in range(2)
    ]
    assert not ports[0] & ports[1], "each run must serve its origins on ports of its own"


def test_every_cell_carries_the_standards_reason_and_the_model_agrees(e2e_cells: Cells) -> None:
    judged = [r for r in e2e_cells.values() if r.agrees is not None]
    disagreeing = [(r.scenario, r.case, r.browser, r.outcome, r.model) for r in judged if not r.agrees]
    assert judged and not disagreeing, disagreeing
    for row in e2e_cells.values():
        if row.outcome == "blocked":
            assert row.model["prediction"] == "blocked" and row.model["rule"] and row.browser_reason
            if row.engine == "chromium" and row.exchanges:  # CDP's corsErrorStatus or the console's CORS message
                assert "corsErrorStatus: " in row.browser_reason or "blocked by CORS policy" in row.browser_reason
            if row.engine == "firefox" and row.exchanges:  # its console's own words, over WebDriver BiDi
                assert "Cross-Origin Request Blocked" in row.browser_reason and "(Reason: " in row.browser_reason
            if row.engine == "webkit":
                assert "does not report its CORS reason" in row.browser_reason


def test_explain_tells_the_story_of_a_case(browsers: list, tmp_path: Path) -> None:
    done = _cli(
        "explain", "e2e/basics:header not in allow_headers", str(E2E), "--browser", "chromium", "--browser", "firefox"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "1. preflight: OPTIONS /data -> 200" in out and "Access-Control-Request-Headers: x-not-allowed" in out
    assert "standard says:  blocked: the preflight's Access-Control-Allow-Headers does not list x-not-allowed" in out
    assert (
        "to allow it" not in out and "to close it" not in out
    )  # refused as the scenario expects: no advice to open it
    assert "is not allowed by Access-Control-Allow-Headers in preflight response" in out
    assert "(Reason: header \u2018x-not-allowed\u2019 is not allowed according to header" in out  # Firefox's own words
    results = tmp_path / "r.json"
    assert _cli("run", str(E2E / "basics.toml"), "--browser", "chromium", "--out", str(results)).returncode == 0
    again = _cli("explain", "basics:another origin", "--results", str(results))
    assert again.returncode == 0 and "the response has no Access-Control-Allow-Origin header" in again.stdout
    missing = _cli("explain", "basics:no such case", str(E2E))
    assert missing.returncode == 2 and "its cases:" in missing.stderr


def test_resume_completes_a_killed_run_without_redoing_or_duplicating_cells(browsers: list, tmp_path: Path) -> None:
    out = tmp_path / "resumed.json"
    partial = out.with_name(out.name + ".partial.jsonl")
    process = subprocess.Popen(
        [sys.executable, "-m", "lab", "run", str(E2E), "--browser", "chromium", "--timeout", "60", "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline and (not partial.exists() or partial.read_text().count('"row"') < 2):
        time.sleep(0.1)
    process.kill()  # SIGKILL: no chance to write the final file; only the stream survives
    process.wait(timeout=30)
    assert not out.exists() and partial.exists()
    before = {
        (r["row"]["scenario"], r["row"]["case"]): r["row"]
        for r in map(json.loads, partial.read_text().splitlines())
        if "row" in r
    }
    done = _cli("run", str(E2E), "--browser", "chromium", "--timeout", "2", "--out", str(out), "--resume")
    assert done.returncode == 1, done.stderr  # the fault scenarios' cells are error / timeout by design
    assert f"resuming {out}: {len(before)} cells kept" in done.stderr
    document = json.loads(out.read_text())
    keys = [(r["scenario"], r["case"]) for r in document["results"]]
    total = sum(len(s.cases) for s in load_scenarios([E2E]))
    assert len(keys) == len(set(keys)) == total and document["complete"] is True
    for key, row in before.items():
        kept = next(r for r in document["results"] if (r["scenario"], r["case"]) == key)
        assert kept["duration_ms"] == row["duration_ms"], "a measured cell must be kept, not measured again"
    assert not partial.exists()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""


@pytest.mark.parametrize("engine, binary", [("chromium", "chrom"), ("firefox", "firefox")])
def test_a_browser_killed_mid_run_is_an_error_cell_and_the_run_goes_on(
    engine: str, binary: str, browsers: list, tmp_path: Path
) -> None:
    import os

    from lab.scale import _descendants

    out = tmp_path / "killed.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "lab", "run", str(E2E), "--browser", engine, "--timeout", "20", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The first window of cases runs e2e/faults, whose first case hangs for 20 s: kill the browser while it waits.
    deadline = time.time() + 60
    while time.time() < deadline and not any(binary in _cmdline(pid) for pid in _descendants(process.pid)):
        time.sleep(0.1)
    time.sleep(4)
    killed = 0
    for pid in _descendants(process.pid):
        try:
            if binary in Path(f"/proc/{pid}/cmdline").read_text():
                os.kill(pid, 9)
                killed += 1
        except OSError:
            pass
    assert killed, "no browser process found to kill"
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stdout + stderr
    rows = {(r["scenario"], r["case"]): r for r in json.loads(out.read_text())["results"]}
    hit = [
        r for r in rows.values() if r["outcome"] == "error" and "browser failed during the case" in (r["reason"] or "")
    ]
    # The cases in flight together in the killed browser are errors that say so (the hung one among them).
    assert ("e2e/faults", "hung route") in {(r["scenario"], r["case"]) for r in hit}, [
        (r["case"], r["reason"]) for r in rows.values() if r["outcome"] == "error"
    ]
    assert rows[("e2e/isolation", "preflighted PUT one")]["outcome"] == "allowed", "the restarted browser ran the rest"
    assert len(rows) == sum(len(s.cases) for s in load_scenarios([E2E]))
    assert stderr.count(f"{engine}: {engine[0].upper()}") == 2, "launched once, then restarted once"


def test_an_origin_server_that_cannot_start_fails_only_its_scenario(
    browsers: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from lab import servers

    original = servers.OriginServer.__init__

    def refuse_evil(self, app, host=servers.LOOPBACK, ssl_context=None):  # type: ignore[no-untyped-def]
        if getattr(app, "__self__", None) is not None and refuse_evil.armed:
            refuse_evil.armed -= 1
            raise OSError(errno.EADDRINUSE, "Address already in use")
        original(self, app, host, ssl_context)

    refuse_evil.armed = 0
    monkeypatch.setattr(servers.OriginServer, "__init__", refuse_evil)
    chromium = [c for c in browsers if c.engine == "chromium"]
    # The first origin server of the run cannot bind: the first scenario's cells say why, the rest run.
    refuse_evil.armed = 1
    cells = run_rows([E2E / "basics.toml", E2E / "isolation.toml"], chromium)
    first = [r for r in cells.values() if r.scenario == "e2e/basics"]
    assert first and all(r.outcome == "error" and "Address already in use" in r.reason for r in first)
    assert all(r.matched for r in cells.values() if r.scenario == "e2e/isolation")
