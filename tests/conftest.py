"""Fixtures for tests that drive real browsers.

Browser tests skip when a browser is missing, unless CORS_LAB_REQUIRE_BROWSERS=1
(CI sets it), in which case a missing browser fails the run instead of hiding.

Nothing is left behind: a session (each xdist worker is one) fails when a process it started
outlives it, and those processes are stopped (`nothing_left_behind`).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import pytest

from lab.browsers.base import Candidate
from lab.browsers.discovery import find_browsers
from lab.options import RunOptions
from lab.results import ResultRow
from lab.run import Sink, run_lab
from lab.scenario import load_scenarios

E2E = Path(__file__).parent / "e2e"
ROOT = Path(__file__).parent.parent


def lab_cli(*args: str) -> subprocess.CompletedProcess:
    """`cors-lab ARGS` in a separate process, from the repository root, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, timeout=900, cwd=ROOT)


try:  # property tests: random exploration on developers' machines, the same examples every time in CI
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI"):
        _hypothesis_settings.load_profile("ci")
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    pass
ENGINES = ("chromium", "firefox", "webkit")


class Collect(Sink):
    def __init__(self) -> None:
        self.rows: List[ResultRow] = []

    def row(self, row: ResultRow) -> None:
        self.rows.append(row)


def run_rows(
    paths: Sequence[Path], candidates: Sequence[Candidate], seed: Optional[int] = None, timeout: float = 2.0
) -> Dict[Tuple[str, str, str], ResultRow]:
    """Run scenarios through the real runner; cells keyed by (scenario, case, browser)."""
    sink = Collect()
    assert run_lab(load_scenarios(list(paths)), candidates, RunOptions(timeout, seed), sink)
    return {(r.scenario, r.case, r.browser): r for r in sink.rows}


@pytest.fixture(scope="session")
def browsers() -> List[Candidate]:
    found = [c for c in find_browsers() if c.name in ENGINES]
    missing = set(ENGINES) - {c.name for c in found}
    if missing:
        message = f"browsers not found: {', '.join(sorted(missing))} (cors-lab doctor says how to install them)"
        if os.environ.get("CORS_LAB_REQUIRE_BROWSERS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def e2e_cells(browsers: List[Candidate]) -> Dict[Tuple[str, str, str], ResultRow]:
    """The test scenarios, run once per session in every browser."""
    return run_rows([E2E], browsers)


# --- Nothing left behind ---------------------------------------------------------------------------------------------
# A process the suite starts and does not stop (a `playwright run-server --unsafe` once stayed listening on 127.0.0.1
# after the run) fails the session. The catch is the orphan: once its parent is gone it is reparented to init, so the
# pytest process's descendants by ppid no longer include it. Two ways to see it anyway (Linux, /proc):
# - this process becomes a child subreaper (prctl PR_SET_CHILD_SUBREAPER): orphans of anything it started are
#   reparented to it instead of init, so they stay its descendants, whatever they do to their environment;
# - every process it starts inherits CORS_LAB_TEST_SESSION=<uuid of this session> in its environment, which
#   /proc/PID/environ shows even for a process that ended up outside the tree (a subreaper between us, a double
#   fork from a process that had itself stopped being our descendant).
# A process counts as ours when either says so. Each pytest process that runs tests checks its own: under xdist every
# worker (the controller runs none); an inner pytest sets its own uuid and is itself a subreaper. Elsewhere than
# Linux there is no /proc and the check does nothing.

SESSION_MARKER = "CORS_LAB_TEST_SESSION"
LEAK_GRACE_S = float(os.environ.get("CORS_LAB_LEAK_GRACE_S", "5"))  # time left to processes exiting on their own
PR_SET_CHILD_SUBREAPER = 36

Identity = Tuple[int, int]  # (pid, start time): a pid reused by another process is another process


def _stat(pid: int) -> Optional[Tuple[str, int, int, int]]:
    """(state, ppid, process group, start time) from /proc/PID/stat; None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read().decode(errors="replace")
    except OSError:
        return None
    fields = data[data.rindex(")") + 2 :].split()  # after the command name, which may hold spaces and parentheses
    return fields[0], int(fields[1]), int(fields[2]), int(fields[19])


def processes() -> Dict[int, Tuple[str, int, int, int]]:
    """Every process visible in /proc: pid -> (state, ppid, process group, start time)."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _stat(int(name))
            if stat is not None:
                table[int(name)] = stat
    return table


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = cmdline.read().rstrip(b"\0").split(b"\0")
        if words != [b""]:
            return " ".join(w.decode(errors="replace") for w in words)
        with open(f"/proc/{pid}/comm", "rb") as comm:
            return "[" + comm.read().decode(errors="replace").strip() + "]"
    except OSError:
        return "?"


def _carries(pid: int, marker: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            return marker in b"\0" + environ.read()
    except OSError:  # gone, or not ours to read
        return False


def _ours(me: int, session: str) -> Dict[Identity, Tuple[int, str]]:
    """Live (not zombie) processes this session started: descendants of `me`, or carriers of its marker."""
    table = processes()
    children: Dict[int, List[int]] = {}
    for pid, (_, ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: Set[int] = set()
    todo = list(children.get(me, []))
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    marker = f"\0{SESSION_MARKER}={session}\0".encode()
    found.update(pid for pid in table if pid not in found and _carries(pid, marker))
    return {
        (pid, table[pid][3]): (table[pid][1], command_line(pid))
        for pid in found
        if pid != me and table[pid][0] not in ("Z", "X")
    }


def _reap_adopted_zombies(me: int) -> None:
    """Orphans reparented to this subreaper are its children: once dead, they wait here to be reaped."""
    for pid, (state, ppid, _, _) in processes().items():
        if ppid == me and state == "Z":
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def _signal(identities: Sequence[Identity], sig: int) -> None:
    for pid, started in identities:
        stat = _stat(pid)
        if stat is not None and stat[3] == started:  # still the same process
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass


def _wait_for_exit(me: int, session: str, before: Set[Identity], seconds: float) -> Dict[Identity, Tuple[int, str]]:
    deadline = time.monotonic() + seconds
    while True:
        left = {k: v for k, v in _ours(me, session).items() if k not in before}
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def instances_made(monkeypatch: pytest.MonkeyPatch, cls: type) -> List[Any]:
    """Every object of `cls` made from now on in this test, in order (helper processes the lab starts, say)."""
    made: List[Any] = []
    original = cls.__init__

    def remember(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(cls, "__init__", remember)
    return made


def group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process is still in process group `pgid`."""
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
    return any(group == pgid and state not in ("Z", "X") for state, _, group, _ in processes().values())


def stop_process_group(process: subprocess.Popen[str], timeout_s: float = 10.0) -> None:
    """Stop a process started with start_new_session=True and everything in its group: SIGTERM, then SIGKILL."""
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait_s
        while group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not group_alive(process.pid):
            break
    process.wait(timeout=5)


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind() -> Iterator[None]:
    """Fail the session when a process it started is still alive at its end (after a grace period), and stop it."""
    if not os.path.isdir("/proc/self"):
        yield
        return
    me = os.getpid()
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    session = uuid.uuid4().hex
    os.environ[SESSION_MARKER] = session
    before = set(_ours(me, session))
    yield
    left = _wait_for_exit(me, session, before, LEAK_GRACE_S)
    if left:
        _signal(list(left), signal.SIGTERM)
        if _wait_for_exit(me, session, before, 2.0):
            _signal(list(left), signal.SIGKILL)
            _wait_for_exit(me, session, before, 2.0)
    _reap_adopted_zombies(me)
    if left:
        lines = [f"  pid {pid} (parent {ppid}): {command}" for (pid, _), (ppid, command) in sorted(left.items())]
        pytest.fail(
            f"{len(left)} process(es) started by this test session outlived it ({LEAK_GRACE_S:g} s after its "
            f"end), now killed; a fixture or the product must stop them:\n" + "\n".join(lines),
            pytrace=False,
        )
