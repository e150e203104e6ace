"""Browsers over W3C WebDriver: WebKitGTK here, Safari through safaridriver, or any remote endpoint.

A small client of the standard protocol (JSON over HTTP) instead of a library:
the lab needs five commands (new session, navigate, new window, switch window,
execute async script) plus cookies, and the same code then serves a local
WebKitWebDriver, `safaridriver` on macOS, and a Selenium grid alike.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Sequence

from ..frontend import PAGE_PATH
from .base import Browser, BrowserInfo, BrowserUnavailable, Page
from .calls import BrowserMessages, FunctionPage

PROBE_SCRIPT = (
    "const done = arguments[arguments.length - 1];"
    "window.corsLabProbe(arguments[0]).then(done, e => done({outcome: 'error', error: String(e)}));"
)

START_SCRIPT = "return window.corsLabStart(arguments[0]);"
# Results come back as one JSON string: cheaper for the driver to serialise than nested objects.
RESULTS_SCRIPT = (
    "const done = arguments[arguments.length - 1];"
    "window.corsLabResults(arguments[0]).then(r => done(JSON.stringify(r)), e => done(JSON.stringify({})));"
)
RUN_SCRIPT = (
    "const done = arguments[arguments.length - 1]; window.corsLabStart(arguments[0]);"
    "window.corsLabResults(arguments[0].map(s => s.token)).then(r => done(JSON.stringify(r)),"
    " e => done(JSON.stringify({})));"
)


class WebDriverError(Exception):
    """A WebDriver command failed; the message is the endpoint's own error text."""


class WebDriverClient:
    """One WebDriver session on an endpoint (`http://host:port`, or a grid URL with a path)."""

    def __init__(self, endpoint: str, timeout_s: float = 60.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout_s = timeout_s
        self.session_id = ""
        self.capabilities: Dict[str, Any] = {}

    def call(
        self, method: str, path: str, body: Optional[Dict[str, Any]] = None, timeout_s: Optional[float] = None
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.endpoint + path, data=data, method=method, headers={"Content-Type": "application/json; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s or self.timeout_s) as response:
                payload = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                value = json.loads(exc.read()).get("value", {})
                message = f"{value.get('error', exc.code)}: {value.get('message', '')}".strip()
            except ValueError:
                message = f"HTTP {exc.code}"
            raise WebDriverError(f"{method} {path}: {message}") from exc
        except (OSError, ValueError) as exc:
            raise WebDriverError(f"{method} {path}: {exc}") from exc
        return payload.get("value")

    def start(self, capabilities: Dict[str, Any]) -> None:
        value = self.call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
        self.session_id = value["sessionId"]
        self.capabilities = value.get("capabilities", {})

    def session(
        self, method: str, path: str, body: Optional[Dict[str, Any]] = None, timeout_s: Optional[float] = None
    ) -> Any:
        return self.call(method, f"/session/{self.session_id}{path}", body, timeout_s)

    def quit(self) -> None:
        if self.session_id:
            try:
                self.call("DELETE", f"/session/{self.session_id}", timeout_s=10)
            except WebDriverError:
                pass
            self.session_id = ""


class WebDriverPage(FunctionPage):
    """A window of a W3C WebDriver session: the lab's calls as scripts (async ones answer through WebDriver's
    callback). Classic WebDriver has no console access, so the browser's own reason is not available."""

    calls = {"probe": PROBE_SCRIPT, "start": START_SCRIPT, "results": RESULTS_SCRIPT, "run": RUN_SCRIPT}

    def __init__(self, browser: WebDriverBrowser, handle: str) -> None:
        super().__init__(BrowserMessages())
        self._browser = browser
        self.handle = handle

    def _round_trip(self) -> None:
        pass  # no console to flush

    def _call(self, function: str, argument: Any, timeout_ms: int) -> Any:
        self._browser.switch_to(self.handle)
        if function == START_SCRIPT:  # starts cases and returns at once
            return self._browser.client.session("POST", "/execute/sync", {"script": function, "args": [argument]})
        self._browser.ensure_script_timeout(timeout_ms + 5000)
        return self._browser.client.session(
            "POST", "/execute/async", {"script": function, "args": [argument]}, timeout_s=timeout_ms / 1000 + 30
        )


class _Process:
    """A helper process (a driver, a virtual display) that dies with the browser."""

    def __init__(
        self, command: Sequence[str], env: Optional[Dict[str, str]] = None, pass_fds: Sequence[int] = ()
    ) -> None:
        self.process = subprocess.Popen(
            list(command),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=tuple(pass_fds),
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_virtual_display() -> tuple[_Process, str]:
    """Start Xvfb on a display number it picks itself (no collisions between runs)."""
    xvfb = shutil.which("Xvfb")
    if not xvfb:
        raise BrowserUnavailable("WebKitGTK needs an X display and Xvfb is not installed: apt-get install xvfb")
    read_end, write_end = os.pipe()
    process = _Process(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"], pass_fds=[write_end]
    )
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        number = pipe.readline().strip()
    if not number:
        process.stop()
        raise BrowserUnavailable("Xvfb did not start (no display number reported)")
    return process, f":{number}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_local_driver(command: Sequence[str], env: Optional[Dict[str, str]] = None) -> tuple[_Process, str]:
    """Start a local WebDriver server (`WebKitWebDriver`, `safaridriver`) on a free port and wait for it."""
    port = _free_port()
    process = _Process([*command, f"--port={port}"], env=env)
    endpoint = f"http://127.0.0.1:{port}"
    client = WebDriverClient(endpoint, timeout_s=2)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            client.call("GET", "/status")
            return process, endpoint
        except WebDriverError:
            if process.process.poll() is not None:
                break
            time.sleep(0.05)
    process.stop()
    raise BrowserUnavailable(f"{command[0]} did not start a WebDriver server")


class WebDriverBrowser(Browser):
    """A browser driven over WebDriver, with one window per origin kept open for the run."""

    def __init__(
        self,
        endpoint: str,
        capabilities: Dict[str, Any],
        name: str,
        engine: str,
        product: str,
        driver: str,
        executable: str,
        helpers: Sequence[_Process] = (),
    ) -> None:
        super().__init__()
        self._helpers = list(helpers)
        self.client = WebDriverClient(endpoint)
        try:
            self.client.start(capabilities)
        except WebDriverError as exc:
            self._stop_helpers()
            raise BrowserUnavailable(f"{product} over WebDriver at {endpoint} did not start a session: {exc}") from exc
        self._current = self.client.session("GET", "/window")
        self._fresh_window: Optional[str] = self._current
        self._script_timeout_ms = 0
        self.info = BrowserInfo(
            name=name,
            engine=engine,
            product=product,
            version=str(self.client.capabilities.get("browserVersion", "unknown")),
            driver=driver,
            executable=executable,
        )

    def switch_to(self, handle: str) -> None:
        if handle != self._current:
            self.client.session("POST", "/window", {"handle": handle})
            self._current = handle

    def ensure_script_timeout(self, milliseconds: int) -> None:
        if milliseconds > self._script_timeout_ms:
            self.client.session("POST", "/timeouts", {"script": milliseconds})
            self._script_timeout_ms = milliseconds

    def _open(self, origin_url: str, permission: str = "") -> Page:
        if permission:  # never asked: its cells are unsupported (lab/browsers/spaces.py)
            raise NotImplementedError("WebDriver has no local-network permission to set")
        if self._fresh_window is not None:
            handle, self._fresh_window = self._fresh_window, None
        else:
            handle = self.client.session("POST", "/window/new", {"type": "tab"})["handle"]
        page = WebDriverPage(self, handle)
        self._navigate(page, origin_url)
        return page

    def _navigate(self, page: Page, origin_url: str, permission: str = "") -> None:
        assert isinstance(page, WebDriverPage)
        self.switch_to(page.handle)
        self.client.session("POST", "/url", {"url": origin_url + PAGE_PATH})

    def clear_cookies(self, origin_urls: Sequence[str]) -> None:
        # WebDriver deletes only the cookies of the current document's host, so visit every origin's window.
        for origin_url in origin_urls:
            page = self.page(origin_url)
            assert isinstance(page, WebDriverPage)
            self.switch_to(page.handle)
            self.client.session("DELETE", "/cookie")

    def _stop_helpers(self) -> None:
        for helper in reversed(self._helpers):
            helper.stop()

    def close(self) -> None:
        self.client.quit()
        self._stop_helpers()
