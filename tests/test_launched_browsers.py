"""Stock Chromium and stock Firefox, launched by the lab and driven by its own clients (CDP, WebDriver BiDi): a failed
launch says why, a closed browser leaves neither a process nor its profile behind, and a crashed page fails its call
at once."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List

import pytest

from lab.browsers import chromium, firefox, process
from lab.browsers.base import BrowserUnavailable, Candidate
from lab.browsers.cdp import CDPPage
from lab.browsers.wire import ProtocolError
from lab.frontend import PREFIX, frontend_app
from lab.servers import OriginServer
from tests import conftest
from tests.conftest import group_alive, instances_made

OWN_DRIVERS = {"chromium": "devtools protocol", "firefox": "webdriver bidi"}
LAUNCHERS: Dict[str, Callable[..., object]] = {"chromium": chromium.launch_chromium, "firefox": firefox.launch_firefox}
SERVER_NAMES = {"chromium": "DevTools", "firefox": "WebDriver BiDi"}


def _launched_by_the_lab(browsers: List[Candidate], engine: str) -> Candidate:
    found = [c for c in browsers if c.engine == engine and c.driver.startswith(OWN_DRIVERS[engine])]
    if not found:
        pytest.skip(f"no stock {engine} here (Playwright's own builds are driven through Playwright)")
    return found[0]


@pytest.mark.parametrize("engine", sorted(OWN_DRIVERS))
def test_closing_a_browser_ends_every_process_and_removes_its_profile(
    engine: str, browsers: List[Candidate], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: List[process.BrowserProcess] = instances_made(monkeypatch, process.BrowserProcess)
    # Each signal to the browser's group goes out while its parent is unreaped: a reaped parent's pid (the group's id)
    # can be given to another process, and a group signal would then kill a stranger's group.
    unreaped_at_signal: List[bool] = []
    real_killpg = os.killpg

    def killpg(pgid: int, sig: int) -> None:
        unreaped_at_signal.append(
            all(p.process.returncode is None for p in started if p.process and p.process.pid == pgid)
        )
        real_killpg(pgid, sig)

    monkeypatch.setattr(process.os, "killpg", killpg)
    browser = _launched_by_the_lab(browsers, engine).launch()
    try:
        assert browser.info.engine == engine and browser.info.version[0].isdigit(), browser.info
        [launched] = started
        assert launched.process is not None and group_alive(launched.process.pid) and os.path.isdir(launched.profile)
        if engine == "firefox":
            user_js = Path(launched.profile, "user.js").read_text()
            assert 'user_pref("dom.min_background_timeout_value", 0);' in user_js  # paused cases in background tabs
        else:
            assert "--disable-background-timer-throttling" in launched.process.args  # the same, in Chromium
    finally:
        browser.close()
    assert not group_alive(launched.process.pid), f"{engine}'s child processes outlived close()"
    assert unreaped_at_signal and all(unreaped_at_signal), unreaped_at_signal
    assert launched.process.returncode is not None  # reaped in the end
    assert not os.path.exists(launched.profile)
    assert launched.process.stderr is not None and launched.process.stderr.closed  # no pipe left open per launch


@pytest.mark.parametrize("engine", sorted(OWN_DRIVERS))
def test_a_binary_that_never_serves_its_protocol_is_unavailable_with_its_own_words(engine: str, tmp_path: Path) -> None:
    fake = tmp_path / engine
    fake.write_text("#!/bin/sh\necho 'Error: no DISPLAY environment variable specified' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    before = set(os.listdir(tempfile.gettempdir()))
    with pytest.raises(BrowserUnavailable) as raised:
        LAUNCHERS[engine](str(fake), "a driver")
    message = str(raised.value)
    assert str(fake) in message and f"did not start its {SERVER_NAMES[engine]} server" in message
    assert "no DISPLAY environment variable specified" in message
    left = {n for n in set(os.listdir(tempfile.gettempdir())) - before if n.startswith(f"cors-lab-{engine}-")}
    assert not left, left


@pytest.mark.parametrize("engine", sorted(OWN_DRIVERS))
def test_a_binary_that_cannot_run_is_unavailable(engine: str, tmp_path: Path) -> None:
    not_executable = tmp_path / engine
    not_executable.write_text("not a program\n")
    before = set(os.listdir(tempfile.gettempdir()))
    with pytest.raises(BrowserUnavailable, match="cannot be started"):
        LAUNCHERS[engine](str(not_executable), "a driver")
    assert not {n for n in set(os.listdir(tempfile.gettempdir())) - before if n.startswith(f"cors-lab-{engine}-")}


LAB_THAT_LAUNCHES = """
import sys
from lab.browsers import process
from lab.browsers.discovery import find_browsers

made = []
start = process.BrowserProcess.start
process.BrowserProcess.start = lambda self, *a, **k: (start(self, *a, **k), made.append(self))[0]
[candidate] = [c for c in find_browsers() if c.engine == sys.argv[1]]
browser = candidate.launch()
print(made[0].process.pid, flush=True)
sys.stdin.read()  # until the test kills this process
"""


@pytest.mark.parametrize("engine", sorted(OWN_DRIVERS))
def test_a_browser_does_not_outlive_a_lab_killed_with_sigkill(engine: str, browsers: List[Candidate]) -> None:
    _launched_by_the_lab(browsers, engine)
    lab = subprocess.Popen(
        [sys.executable, "-c", LAB_THAT_LAUNCHES, engine],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    group = 0
    try:
        assert lab.stdout is not None
        group = int(lab.stdout.readline())
        assert group_alive(group)
        lab.kill()  # no finally, no atexit: only the pipe the browser's supervisor holds can notice
        lab.wait(timeout=30)
        deadline = time.monotonic() + 20
        while group_alive(group) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not group_alive(group), f"{engine} outlived the lab process that launched it"
    finally:
        lab.kill()
        if group and group_alive(group):
            os.killpg(group, signal.SIGKILL)
        if group and (conftest._stat(group) or ("", 0))[1] == os.getpid():
            os.waitpid(group, 0)  # the supervisor, adopted by this subreaper once its parent was killed


def _lab_page_app(environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO", "").startswith(PREFIX):
        return frontend_app(environ, start_response)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"data"]


@pytest.fixture
def lab_page() -> Iterator[str]:
    server = OriginServer(_lab_page_app)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def test_a_crashed_chromium_page_fails_its_call_at_once(browsers: List[Candidate], lab_page: str) -> None:
    browser = _launched_by_the_lab(browsers, "chromium").launch()
    try:
        page = browser.page(lab_page)
        assert isinstance(page, CDPPage)
        spec = {
            "url": f"{lab_page}/data",
            "method": "GET",
            "headers": {},
            "body": None,
            "credentials": "omit",
            "mode": "cors",
            "redirect": "follow",
            "read_headers": [],
            "sandboxed": False,
            "timeout_ms": 1000,
        }
        assert page.probe(spec)["outcome"] == "allowed"  # the page works before its renderer crashes
        browser.connection.send("Page.crash", {}, session=page.session)
        with pytest.raises(ProtocolError) as raised:
            page.probe(spec)  # not answered by a crashed renderer: without the crash event it would wait 31 s
        assert "crashed" in str(raised.value) or "gone" in str(raised.value), raised.value
    finally:
        browser.close()


def test_later_launches_start_from_firefoxs_startup_files_and_nothing_else(
    browsers: List[Candidate], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    candidate = _launched_by_the_lab(browsers, "firefox")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    seen_at_start: List[List[str]] = []
    original_popen = process.subprocess.Popen

    def popen(command, *args, **kwargs):  # type: ignore[no-untyped-def]
        profile = command[command.index("--profile") + 1]
        seen_at_start.append(sorted(os.listdir(profile)))
        return original_popen(command, *args, **kwargs)

    monkeypatch.setattr(process.subprocess, "Popen", popen)
    for _ in range(2):
        candidate.launch().close()
    kept = firefox.startup_cache(candidate.executable)
    assert kept is not None and kept.is_relative_to(tmp_path)
    assert sorted(os.listdir(kept)) == sorted(firefox.STARTUP_FILES)  # no cookies, storage, history or prefs
    assert seen_at_start[0] == ["user.js"] and seen_at_start[1] == sorted([*firefox.STARTUP_FILES, "user.js"])
