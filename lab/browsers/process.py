"""A browser binary the lab launches itself (stock Firefox, stock Chromium): its own process group, a fresh profile
folder, and the log line that says where its protocol's WebSocket listens. Stopping it ends the whole group, content
processes included, and removes the folder.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from typing import Deque, Dict, Optional, Pattern, Sequence

from .base import BrowserUnavailable

LAUNCH_TIMEOUT_S = 60.0


# The browser runs under a small shell that leads its process group and holds the read end of a pipe from the lab:
# when the lab exits, however it exits (even SIGKILL), the pipe ends and the shell kills the whole group, so no
# browser outlives the run that launched it. The shell exits with the browser's own exit status otherwise.
SUPERVISOR = (
    'exec 3<&0; "$@" </dev/null 3<&- & browser=$!; '
    "{ read -r _ <&3; kill -KILL 0; } & watcher=$!; "
    'wait "$browser"; status=$?; kill "$watcher" 2>/dev/null; exit "$status"'
)


class BrowserProcess:
    """Subclasses prepare the profile folder before `start` and may want a clean exit (`wants_clean_exit`)."""

    def __init__(self, profile_prefix: str, listening: Pattern[str]) -> None:
        self.profile = tempfile.mkdtemp(prefix=profile_prefix)
        self.log: Deque[str] = collections.deque(maxlen=30)
        self._listening = listening
        self._url: Optional[str] = None
        self._found = threading.Event()  # the URL is known, or the log ended without one
        self.process: Optional[subprocess.Popen[str]] = None
        self._reader: Optional[threading.Thread] = None

    def start(self, command: Sequence[str], env: Optional[Dict[str, str]] = None) -> None:
        """Run the browser in a process group of its own (led by the supervising shell: its pid is the group's id),
        reading its log to the end. A binary that cannot be run raises OSError, and leaves no profile folder."""
        if not os.access(command[0], os.X_OK):  # said here: the shell in front would only exit 126 or 127
            shutil.rmtree(self.profile, ignore_errors=True)
            raise OSError(f"{command[0]} is not an executable file")
        try:
            self.process = subprocess.Popen(
                ["/bin/sh", "-c", SUPERVISOR, "cors-lab-browser", *command],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                env=env if env is not None else dict(os.environ),
                start_new_session=True,
            )
        except OSError:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self._reader = threading.Thread(target=self._read_log, name="browser-log", daemon=True)
        self._reader.start()

    def _read_log(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:  # read to the end: a full pipe would stall the browser
            self.log.append(line.rstrip())
            found = self._listening.search(line)
            if found and self._url is None:
                self._url = self.url_from(found)
                self._found.set()
        self._found.set()

    def url_from(self, found: re.Match[str]) -> str:
        """The WebSocket URL to connect to, from the log line that announced it."""
        return found.group(1)

    def listening_url(self, browser: str, server: str, timeout_s: float = LAUNCH_TIMEOUT_S) -> str:
        """Where the browser's protocol listens, once it says so. A browser that exits first or takes too long is
        stopped, and BrowserUnavailable quotes the end of its log (`browser` names it, `server` its protocol)."""
        self._found.wait(timeout_s)
        if self._url is None:
            self.stop()
            said = " | ".join(line for line in list(self.log)[-5:] if line) or "nothing"
            raise BrowserUnavailable(
                f"{browser} did not start its {server} server within {timeout_s:.0f} s; it said: {said}"
            )
        return self._url

    def wants_clean_exit(self) -> bool:
        """Whether the browser should be given time to exit by itself before its group is ended (its profile is
        thrown away either way)."""
        return False

    def exited_cleanly(self) -> None:
        """Called after a clean exit (status 0), before the profile folder is removed."""

    def _exited(self, timeout_s: float) -> bool:
        """Wait for the parent process to exit, without reaping it: until it is reaped its pid, which is also its
        process group's id, cannot be given to another process, so signalling the group cannot hit a stranger."""
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    return True
            except ChildProcessError:
                return True  # already reaped
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def stop(self) -> None:
        """A browser that wants a clean exit gets a few seconds to exit by itself, then its process group is ended,
        child processes included, and only then is the parent reaped."""
        if self.process is None:
            shutil.rmtree(self.profile, ignore_errors=True)
            return
        steps = ((None, 5.0), (signal.SIGTERM, 5.0)) if self.wants_clean_exit() else ()
        for sig, wait_s in (*steps, (signal.SIGKILL, 5.0)):
            if sig is not None:
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    pass
            if self._exited(wait_s):
                break
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # child processes left behind by the parent
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass  # killed, but not yet gone: nothing more to do here
        if self._reader is not None:
            self._reader.join(timeout=5)  # the log ends with the processes that held it open
        if self.process.stderr is not None and not (self._reader is not None and self._reader.is_alive()):
            self.process.stderr.close()
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self.process.returncode == 0:
            self.exited_cleanly()
        shutil.rmtree(self.profile, ignore_errors=True)
