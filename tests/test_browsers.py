"""Finding, describing and driving browsers: WebDriver endpoints, doctor, missing browsers, clean-up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from lab import cli
from lab.browsers import webdriver
from lab.browsers.base import BrowserUnavailable
from lab.browsers.discovery import find_browsers, minibrowser, remote_candidate
from lab.commands import common
from tests import conftest
from tests.conftest import E2E, ROOT, run_rows, stop_process_group

pytestmark = pytest.mark.browser


@pytest.fixture
def webkitgtk_endpoint(browsers: list):
    """A WebKitWebDriver started outside the lab, on its own display: a 'remote' endpoint on this machine."""
    display, name = webdriver.start_virtual_display()
    try:
        driver, endpoint = webdriver.start_local_driver(["WebKitWebDriver"], dict(os.environ, DISPLAY=name))
        try:
            yield endpoint
        finally:
            driver.stop()
    finally:
        display.stop()


def test_a_remote_webdriver_endpoint_runs_the_same_cases(webkitgtk_endpoint: str, tmp_path: Path) -> None:
    out = tmp_path / "remote.json"
    capabilities = json.dumps({"webkitgtk:browserOptions": {"binary": minibrowser(), "args": ["--automation"]}})
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab",
            "run",
            str(E2E / "basics.toml"),
            "--browser",
            "MiniBrowser",
            "--webdriver",
            f"MiniBrowser={webkitgtk_endpoint}",
            "--webdriver-capabilities",
            capabilities,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(out.read_text())
    assert document["browsers"][0]["engine"] == "webkit"
    assert document["browsers"][0]["driver"] == f"webdriver (remote {webkitgtk_endpoint})"
    assert {r["outcome"] for r in document["results"]} == {"allowed", "blocked"}


def test_bad_webdriver_specs_are_bad_input() -> None:
    for spec, message in [
        ("safari", "expected NAME=URL"),
        ("netscape=http://127.0.0.1:1", "unknown browser 'netscape'"),
    ]:
        with pytest.raises(BrowserUnavailable, match=message):
            remote_candidate(spec)


def test_an_unreachable_endpoint_is_an_error_cell_not_a_crash(tmp_path: Path) -> None:
    candidate = remote_candidate("safari=http://127.0.0.1:9")
    cells = run_rows([E2E / "basics.toml"], [candidate])
    assert {r.outcome for r in cells.values()} == {"error"}
    assert all("did not start a session" in r.reason for r in cells.values())


def test_webkit_helpers_do_not_outlive_the_run(browsers: list, monkeypatch: pytest.MonkeyPatch) -> None:
    started: List[webdriver._Process] = conftest.instances_made(monkeypatch, webdriver._Process)
    monkeypatch.delenv("DISPLAY", raising=False)
    webkit = [c for c in browsers if c.engine == "webkit"]
    cells = run_rows([E2E / "basics.toml"], webkit)
    assert all(r.matched for r in cells.values())
    commands = [os.path.basename(p.process.args[0]) for p in started]
    assert commands == ["Xvfb", "WebKitWebDriver"], commands
    assert all(p.process.poll() is not None for p in started), "Xvfb and WebKitWebDriver must be stopped"


def test_doctor_reports_every_engine_usable(browsers: list, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    for engine in ("chromium", "firefox", "webkit"):
        assert f"{engine}: usable" in out
    assert "driven:  webdriver (WebKitWebDriver)" in out


def test_doctor_tries_every_driver_beside_the_chosen_one(browsers: list, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["doctor", "--driver", "playwright"]) == 0
    out = capsys.readouterr().out
    assert "driven:  playwright (system binary) (what runs use)" in out
    assert "also:    devtools protocol (system binary) (--driver chromium=native): usable" in out
    assert "also:    webdriver bidi (system binary) (--driver firefox=native): usable" in out


def test_a_requested_browser_that_is_missing_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    found = [c for c in find_browsers() if c.engine != "webkit"]
    monkeypatch.setattr(common, "find_browsers", lambda *_: found)
    assert cli.main(["run", str(E2E / "basics.toml"), "--browser", "webkit"]) == 2
    err = capsys.readouterr().err
    assert "browser 'webkit' was not found" in err and "apt-get install webkit2gtk-driver xvfb" in err
    assert cli.main(["doctor"]) == 1
    assert "webkit: MISSING" in capsys.readouterr().out


def test_playwright_is_asked_for_its_builds_only_when_some_are_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asking Playwright where its builds are starts its node driver: not when its browsers folder holds none."""
    import playwright.sync_api

    from lab.browsers import discovery

    asked: List[str] = []
    real = playwright.sync_api.sync_playwright

    def counting():  # type: ignore[no-untyped-def]
        asked.append("sync_playwright")
        return real()

    monkeypatch.setattr(playwright.sync_api, "sync_playwright", counting)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    assert discovery.playwright_browsers_folder() == str(tmp_path)
    assert discovery._playwright_builds() == {} and asked == []
    (tmp_path / "ffmpeg-1011").mkdir()  # not a browser
    assert discovery._playwright_builds() == {} and asked == []
    (tmp_path / "chromium-1200").mkdir()  # a build's folder: Playwright says whether its executable is there
    assert discovery._playwright_builds() == {} and asked == ["sync_playwright"]


@pytest.fixture
def playwright_server(browsers: list):
    """`playwright run-server` in a process of its own: a remote Playwright endpoint on this machine."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # `python -m playwright` runs the node server as its child: terminating the python process alone orphaned a server
    # that launches any executable a client asks for. The server gets a session (process group) of its own, and the
    # whole group is stopped, whatever happens in between.
    server = subprocess.Popen(
        [sys.executable, "-m", "playwright", "run-server", "--host", "127.0.0.1", "--port", str(port), "--unsafe"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        line = server.stdout.readline()
        assert "Listening on" in line, line
        yield f"ws://127.0.0.1:{port}/"
    finally:
        stop_process_group(server)


def test_a_playwright_server_runs_the_same_cases(playwright_server: str, browsers: list, tmp_path: Path) -> None:
    chromium = next(c for c in browsers if c.engine == "chromium")
    remote = ["--connect", f"chromium={playwright_server}"]
    if chromium.system_binary:
        remote += ["--connect-executable", f"chromium={chromium.executable}"]
    out = tmp_path / "remote.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab",
            "run",
            str(E2E / "basics.toml"),
            "--browser",
            "remote-chromium",
            *remote,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(out.read_text())
    assert document["browsers"][0]["name"] == "remote-chromium"
    assert document["browsers"][0]["driver"] == f"playwright server {playwright_server}"
    assert {r["outcome"] for r in document["results"]} == {"allowed", "blocked"}
    assert all(r["matched"] for r in document["results"])
    doctor = subprocess.run(
        [sys.executable, "-m", "lab", "doctor", *remote], capture_output=True, text=True, timeout=120
    )
    assert "chromium: usable" in doctor.stdout and "chromium (remote-chromium): usable" in doctor.stdout, doctor.stdout
    written = tmp_path / "written.json"  # origins as production writes them, through the lab's routing
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab",
            "run",
            str(ROOT / "scenarios" / "real-origins" / "production-and-dev-origins.toml"),
            "--browser",
            "remote-chromium",
            *remote,
            "--out",
            str(written),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads(written.read_text())["results"]
    assert {r["request"]["page_origin"] for r in rows} == {
        "https://app.example.com",
        "http://localhost:5173",
        "https://app.example.com.evil-cdn.net",
    }
    assert all(e["request_headers"]["Host"] == "api.example.com" for r in rows for e in r["exchanges"])


def test_an_unreachable_playwright_server_is_an_error_cell() -> None:
    from lab.browsers.discovery import playwright_server_candidate

    cells = run_rows([E2E / "basics.toml"], [playwright_server_candidate("chromium=ws://127.0.0.1:9/", {})])
    assert {r.outcome for r in cells.values()} == {"error"}
    assert all("cannot use the Playwright server at ws://127.0.0.1:9/" in r.reason for r in cells.values())
    with pytest.raises(BrowserUnavailable, match="expected ENGINE=ws://"):
        playwright_server_candidate("chrome=http://x", {})


def test_origins_under_other_names_and_addresses(browsers: list, tmp_path: Path) -> None:
    """--bind and --host-suffix, as for a browser on another machine: the names resolve only through the rule given."""
    base = [
        sys.executable,
        "-m",
        "lab",
        "run",
        str(E2E / "basics.toml"),
        "--browser",
        "chromium",
        "--bind",
        "127.0.0.2",
        "--host-suffix",
        "lab.test",
    ]
    out = tmp_path / "topology.json"
    mapped = subprocess.run(
        base + ["--browser-arg", "chromium=--host-resolver-rules=MAP *.lab.test 127.0.0.2", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert mapped.returncode == 0, mapped.stdout + mapped.stderr
    rows = json.loads(out.read_text())["results"]
    hosts = {e["request_headers"]["Host"].rsplit(":", 1)[0] for r in rows for e in r["exchanges"]}
    origins = {e["request_headers"]["Origin"].rsplit(":", 1)[0] for r in rows for e in r["exchanges"]}
    assert hosts == {"api.lab.test"} and origins == {"http://app.lab.test", "http://evil.lab.test"}
    unresolved = subprocess.run(base, capture_output=True, text=True, timeout=120)
    assert unresolved.returncode == 1 and "ERR_NAME_NOT_RESOLVED" in unresolved.stdout
    wrong_address = subprocess.run(
        base + ["--browser-arg", "chromium=--host-resolver-rules=MAP *.lab.test 127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert wrong_address.returncode == 1 and "ERR_CONNECTION_REFUSED" in wrong_address.stdout, (
        "servers listen on 127.0.0.2 only"
    )
    bad = subprocess.run(base[:-4] + ["--bind", "not-an-address"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--bind 'not-an-address' is not an IP address" in bad.stderr


INNER_TEST = """
import ctypes, os, subprocess

def test_leaves_a_process_behind():
    if {outside!r}:  # no longer a subreaper: the orphan goes to an ancestor or init, out of this session's tree
        ctypes.CDLL(None).prctl(36, 0, 0, 0, 0)
    # sh exits at once: the sleep is an orphan, in a session of its own, as the playwright server was
    subprocess.run(["sh", "-c", "sleep {seconds} >/dev/null 2>&1 & echo $! > {pidfile}"], stdin=subprocess.DEVNULL,
                   start_new_session=True, env={env}, check=True)
"""


@pytest.mark.parametrize(
    "case", ["orphan", "orphan with a scrubbed environment", "orphan outside the tree", "exits within the grace period"]
)
def test_a_session_fails_when_a_process_it_started_outlives_it(case: str, tmp_path: Path) -> None:
    """The conftest's check, in a pytest of its own: a leftover fails that session and is killed, whether it is found
    as a descendant (subreaper) or by its environment (the session marker) only; a late exit is no leak."""
    if not os.path.isdir("/proc/self"):
        pytest.skip("the check reads /proc")
    pidfile = tmp_path / "sleep.pid"
    leaks = case != "exits within the grace period"
    (tmp_path / "test_inner.py").write_text(
        INNER_TEST.format(
            outside=case == "orphan outside the tree",
            seconds=60 if leaks else 0.3,
            pidfile=pidfile,
            env='{"PATH": os.environ["PATH"]}' if case == "orphan with a scrubbed environment" else "None",
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(PYTHONPATH=str(ROOT), CORS_LAB_LEAK_GRACE_S="2")
    inner = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q", "test_inner.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    pid = int(pidfile.read_text())
    try:
        state = conftest._stat(pid)
        if leaks:
            assert inner.returncode == 1, inner.stdout + inner.stderr
            assert "1 process(es) started by this test session outlived it" in inner.stdout, inner.stdout
            assert f"pid {pid} (parent " in inner.stdout and "sleep 60" in inner.stdout, inner.stdout
            assert state is None or state[0] == "Z", f"the leftover sleep {pid} was not killed: {state}"
        else:
            assert inner.returncode == 0, inner.stdout + inner.stderr
            assert "outlived" not in inner.stdout
    finally:  # neither a broken check nor a failed assertion leaves the sleep behind
        state = conftest._stat(pid)
        killed = state is not None and state[0] != "Z" and "sleep" in conftest.command_line(pid)
        if killed:
            os.kill(pid, signal.SIGKILL)
        if state is not None and state[1] == os.getpid() and (killed or state[0] == "Z"):
            os.waitpid(pid, 0)  # adopted by this subreaper (the orphan outside the tree): reaped here
