"""Browsers through Playwright: its own builds, and browsers launched by a Playwright server (`--connect`)."""

from __future__ import annotations

import json
import subprocess
from typing import Any, Dict, Optional, Sequence

from ..frontend import PAGE_PATH
from .base import Browser, BrowserInfo, BrowserUnavailable, ConsoleMessage, Page, Routing
from .calls import PROBE_CALL, RESULTS_CALL, RUN_CALL, START_CALL, BrowserMessages, FunctionPage
from .cdp import cors_issue_message, set_local_network_permission
from .firefox import routing_prefs

PRODUCTS = {"chromium": "Chromium", "firefox": "Firefox", "webkit": "WebKit"}


def _playwright_version() -> str:
    try:
        from importlib.metadata import version

        return version("playwright")
    except Exception:
        return "unknown"


def system_version(executable: str) -> str:
    """`BINARY --version`, for messages that must name the browser's version without launching it."""
    try:
        done = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=20)
        return done.stdout.strip() or done.stderr.strip() or "unknown version"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown version"


def undrivable_message(engine: str, executable: Optional[str], error: str) -> str:
    """Why a found browser cannot be driven, naming both versions and the fix (never a protocol traceback)."""
    first_line = error.strip().splitlines()[0] if error.strip() else "unknown error"
    what = system_version(executable) if executable else f"Playwright's {engine} build"
    message = f"Playwright {_playwright_version()} cannot drive {what} ({executable or engine}): {first_line}"
    if engine == "firefox" and executable and "Protocol error" in error:
        message += (
            ". Stock Firefox is driven over WebDriver BiDi, and this Playwright speaks a newer BiDi than this"
            " Firefox (measured: Playwright 1.65 fails against Firefox ESR 153, 1.60-1.64 work). Fix:"
            " pip install 'playwright>=1.60,<1.65', or use Playwright's own Firefox: python -m playwright install firefox"
        )
    elif executable:
        message += f". Fix: use Playwright's own build (python -m playwright install {engine}) or a version of this browser that Playwright {_playwright_version()} supports"
    else:
        message += f". Fix: python -m playwright install {engine}"
    return message


def launch_options(
    engine: str, executable: Optional[str], args: Sequence[str] = (), routing: Optional[Routing] = None
) -> Dict[str, Any]:
    """How to launch an engine: Playwright's build (no options) or a system binary, plus extra arguments, and the
    lab's routing for origins served as written."""
    extra = routing.spaces.chromium_switches(routing.proxy) if routing is not None and engine == "chromium" else []
    options: Dict[str, Any] = {"args": [*args, *extra]} if args or extra else {}
    if executable:
        options["executable_path"] = executable
        if engine == "firefox":
            options["channel"] = "moz-firefox"  # stock Firefox over WebDriver BiDi
    if routing is not None:
        if engine == "firefox" and executable:
            # Playwright's `proxy` becomes a BiDi proxy without sslProxy for stock Firefox: https would go direct.
            options["firefox_user_prefs"] = {**routing_prefs(routing), **routing.spaces.firefox_prefs()}
        else:
            # Always the lab's bypass rules: without any, Chromium would reach loopback names directly, real ports too.
            options["proxy"] = {"server": f"http://{routing.proxy}", "bypass": ",".join(routing.chromium_bypass())}
    return options


class PlaywrightPage(FunctionPage):
    """A Playwright page: the lab's calls are `page.evaluate(function, argument)`, its console Playwright's events
    (and, in Chromium, the CORS issues of a CDP session)."""

    calls = {"probe": PROBE_CALL, "start": START_CALL, "results": RESULTS_CALL, "run": RUN_CALL}

    def __init__(self, page: Any, cdp: Any = None) -> None:
        super().__init__(BrowserMessages())
        self._page = page
        self.context = page.context
        self.cdp = cdp
        if cdp is None:  # Firefox (see FunctionPage)
            self.prompts_together = 1
        page.on("console", self._on_console)
        if cdp is not None:
            # Chromium tells why it refused a response as a CORS issue (the Audits domain): one event per refusal,
            # where the Network domain would send several events for every request of the run.
            cdp.send("Audits.enable")
            cdp.on("Audits.issueAdded", self._on_issue)

    def _on_issue(self, event: Dict[str, Any]) -> None:
        message = cors_issue_message(event)
        if message is not None:
            self._messages.add(message)

    def _on_console(self, message: Any) -> None:
        location = message.location or {}
        self._messages.add(ConsoleMessage(message.type, message.text, location.get("url", "")))

    def _to_front(self) -> None:
        if self.prompts_together:  # Firefox (see FunctionPage)
            self._page.bring_to_front()

    def _round_trip(self) -> None:
        try:
            self._page.evaluate("0")
        except Exception:
            pass  # a closed or crashed page has nothing more to say

    def _call(self, function: str, argument: Any, timeout_ms: int) -> Any:
        return self._page.evaluate(function, argument)

    def goto(self, origin_url: str) -> None:
        self._page.goto(origin_url + PAGE_PATH, wait_until="commit")


class PlaywrightBrowser(Browser):
    """Launches in the calling thread: Playwright's sync API belongs to one thread."""

    def __init__(
        self,
        engine: str,
        executable: Optional[str],
        driver: str,
        connect: Optional[str] = None,
        name: Optional[str] = None,
        args: Sequence[str] = (),
        routing: Optional[Routing] = None,
    ) -> None:
        from playwright.sync_api import Error, sync_playwright

        super().__init__()
        self._playwright = sync_playwright().start()
        try:
            if connect:  # a Playwright server elsewhere (`playwright run-server`); it launches the browser on its side
                camel = {"executable_path": "executablePath", "firefox_user_prefs": "firefoxUserPrefs"}
                options = {camel.get(k, k): v for k, v in launch_options(engine, executable, args, routing).items()}
                headers = {"x-playwright-launch-options": json.dumps(options)} if options else None
                self._browser = getattr(self._playwright, engine).connect(connect, headers=headers, timeout=60000)
            else:
                self._browser = getattr(self._playwright, engine).launch(
                    **launch_options(engine, executable, args, routing)
                )
            self._context = self._browser.new_context(ignore_https_errors=True)  # the lab's run-time CA (lab/certs.py)
            self._contexts: Dict[str, Any] = {}  # permission -> context whose pages have it
            self._spare = self._context.new_page()  # fails here, not mid-run, when the protocol does not match
        except Error as exc:
            self._playwright.stop()
            if connect:
                raise BrowserUnavailable(
                    f"cannot use the Playwright server at {connect}: {str(exc).strip().splitlines()[0]}"
                ) from exc
            raise BrowserUnavailable(undrivable_message(engine, executable, str(exc))) from exc
        self.info = BrowserInfo(
            name=name or engine,
            engine=engine,
            product=PRODUCTS[engine]
            + ("" if not executable or "esr" not in executable else " ESR")
            + ("" if executable else " (Playwright build)"),
            version=self._browser.version,
            driver=driver,
            executable=executable or (connect or getattr(self._playwright, engine).executable_path),
        )

    def _open(self, origin_url: str, permission: str = "") -> Page:
        if permission:
            page = self._permission_context(permission).new_page()
        else:
            page, self._spare = (self._spare or self._context.new_page()), None
        cdp = page.context.new_cdp_session(page) if self.info.engine == "chromium" else None
        wrapped = PlaywrightPage(page, cdp)
        self._navigate(wrapped, origin_url, permission)
        return wrapped

    def _permission_context(self, permission: str) -> Any:
        """A context of its own for pages with this local-network permission (created on first use)."""
        if permission not in self._contexts:
            self._contexts[permission] = self._browser.new_context(ignore_https_errors=True)
        return self._contexts[permission]

    def _navigate(self, page: Page, origin_url: str, permission: str = "") -> None:
        assert isinstance(page, PlaywrightPage)
        if permission == "granted":
            # Playwright's one name for it: Chromium's local-network-access, local-network and loopback-network.
            page.context.grant_permissions(["local-network-access"], origin=origin_url)
        elif permission == "denied":
            self._deny(page, origin_url)
        page.goto(origin_url)

    def _deny(self, page: PlaywrightPage, origin_url: str) -> None:
        """Playwright can grant or clear a permission, not deny it: Chromium is told over CDP, in the page's context."""
        if page.cdp is None:
            raise BrowserUnavailable("Playwright cannot deny a permission in this browser")
        context = page.cdp.send("Target.getTargetInfo")["targetInfo"]["browserContextId"]
        set_local_network_permission(page.cdp.send, origin_url, "denied", context)

    def clear_cookies(self, origin_urls: Sequence[str]) -> None:
        for context in (self._context, *self._contexts.values()):
            context.clear_cookies()

    def close(self) -> None:
        for closing in (
            *(c.close for c in self._contexts.values()),
            self._context.close,
            self._browser.close,
            self._playwright.stop,
        ):
            try:
                closing()
            except Exception:
                pass
