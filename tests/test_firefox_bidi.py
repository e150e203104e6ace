"""Stock Firefox driven by the lab's own WebDriver BiDi client: a failed launch says why, and a closed browser
leaves neither a process nor its profile behind."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import List

import pytest

from lab.browsers import firefox
from lab.browsers.base import BrowserUnavailable, Candidate
from tests.conftest import group_alive, instances_made


def _firefox(browsers: List[Candidate]) -> Candidate:
    found = [c for c in browsers if c.engine == "firefox" and c.driver.startswith("webdriver bidi")]
    if not found:
        pytest.skip("no stock Firefox here (Playwright's own Firefox build is driven through Playwright)")
    return found[0]


def test_closing_firefox_ends_every_process_and_removes_its_profile(browsers: List[Candidate],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    started: List[firefox._FirefoxProcess] = instances_made(monkeypatch, firefox._FirefoxProcess)
    # Each signal to Firefox's group goes out while its parent is unreaped: a reaped parent's pid (the group's id) can
    # be given to another process, and a group signal would then kill a stranger's group.
    unreaped_at_signal: List[bool] = []
    real_killpg = os.killpg

    def killpg(pgid: int, sig: int) -> None:
        unreaped_at_signal.append(all(p.process.returncode is None for p in started if p.process.pid == pgid))
        real_killpg(pgid, sig)

    monkeypatch.setattr(firefox.os, "killpg", killpg)
    browser = _firefox(browsers).launch()
    try:
        assert browser.info.engine == "firefox" and browser.info.version[0].isdigit(), browser.info
        [process] = started
        assert group_alive(process.process.pid) and os.path.isdir(process.profile)
        user_js = Path(process.profile, "user.js").read_text()
        assert 'user_pref("dom.min_background_timeout_value", 0);' in user_js  # paused cases in background tabs
    finally:
        browser.close()
    assert not group_alive(process.process.pid), "Firefox's content processes outlived close()"
    assert unreaped_at_signal and all(unreaped_at_signal), unreaped_at_signal
    assert process.process.returncode is not None  # reaped in the end
    assert not os.path.exists(process.profile)
    assert process.process.stderr is not None and process.process.stderr.closed  # no pipe left open per launch


def test_a_binary_that_never_serves_bidi_is_unavailable_with_its_own_words(tmp_path: Path) -> None:
    fake = tmp_path / "firefox"
    fake.write_text("#!/bin/sh\necho 'Error: no DISPLAY environment variable specified' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    before = set(os.listdir(tempfile.gettempdir()))
    with pytest.raises(BrowserUnavailable) as raised:
        firefox.launch_firefox(str(fake), "webdriver bidi (system binary)")
    message = str(raised.value)
    assert str(fake) in message and "did not start its WebDriver BiDi server" in message
    assert "no DISPLAY environment variable specified" in message
    left = {n for n in set(os.listdir(tempfile.gettempdir())) - before if n.startswith("cors-lab-firefox-")}
    assert not left, left


def test_later_launches_start_from_firefoxs_startup_files_and_nothing_else(browsers: List[Candidate], tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    candidate = _firefox(browsers)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    seen_at_start: List[List[str]] = []
    original_popen = firefox.subprocess.Popen

    def popen(command, *args, **kwargs):  # type: ignore[no-untyped-def]
        profile = command[command.index("--profile") + 1]
        seen_at_start.append(sorted(os.listdir(profile)))
        return original_popen(command, *args, **kwargs)

    monkeypatch.setattr(firefox.subprocess, "Popen", popen)
    for _ in range(2):
        candidate.launch().close()
    kept = firefox.startup_cache(candidate.executable)
    assert kept is not None and kept.is_relative_to(tmp_path)
    assert sorted(os.listdir(kept)) == sorted(firefox.STARTUP_FILES)  # no cookies, storage, history or prefs
    assert seen_at_start[0] == ["user.js"] and seen_at_start[1] == sorted([*firefox.STARTUP_FILES, "user.js"])
