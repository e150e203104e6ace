"""A browser over the Chrome DevTools Protocol, spoken directly: the lab's own small client, for stock Chromium.

Through Playwright, every command and event went through its node process and its Python side as well: on the
library that cost about 2.5 s of CPU beside Chromium's own (measured: Chromium alone on the library 12.2-13.4 CPU-s
through Playwright, 10.3-11.6 with this client). The lab needs a handful of commands (new tab, navigate, evaluate,
clear cookies) and a few events: the main frame's commit, the log (Chromium's "Access to fetch ... has been blocked
by CORS policy") and the Audits domain's CORS issues (why, in Chromium's own terms). Frames in processes of their
own (a sandboxed iframe is one) are attached too, for their messages.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Optional, Sequence

from ..frontend import PAGE_PATH
from .base import Browser, BrowserInfo, ConsoleMessage, Page
from .calls import PROBE_CALL, RESULTS_CALL, RUN_CALL, SLACK_S, START_CALL, BrowserMessages, FunctionPage
from .wire import JsonSocket, ProtocolError

# What every attached target (a page, a frame in a process of its own) reports to the lab. Network: Chromium reports a
# request's CORS issue only when DevTools follows the request (measured: no issue at all without it; it costs about
# 1 s of CPU on the library, the events included).
_TARGET_DOMAINS = ("Log.enable", "Audits.enable", "Network.enable")


LNA_PERMISSIONS = ("local-network-access", "local-network", "loopback-network")
"""Chromium's names for the local-network permission: one until 144, then one per target space (measured on 156:
`loopback-network` decides a loopback target, `local-network` a local one)."""
UNRELIABLE_ISSUES = ("LocalNetworkAccessPermissionDenied",)
"""CORS issues Chromium 156 also reports for requests it let through (measured on every granted local-network
request): a refusal of that kind is told by the console's "Permission was denied ..." line instead."""


def set_local_network_permission(
    send: Callable[[str, Dict[str, Any]], Any], origin: str, setting: str, context: str
) -> None:
    """`Browser.setPermission` under every local-network name (LNA_PERMISSIONS) through `send`, for the lab's client
    and Playwright's CDP session alike; raises when this Chromium knows none of them."""
    known = 0
    for name in LNA_PERMISSIONS:
        try:
            send(
                "Browser.setPermission",
                {"permission": {"name": name}, "setting": setting, "origin": origin, "browserContextId": context},
            )
            known += 1
        except Exception:
            pass  # a name this version does not know
    if not known:
        raise ProtocolError(f"this Chromium knows none of the permissions {', '.join(LNA_PERMISSIONS)}")


def cors_issue_message(event: Dict[str, Any]) -> Optional[ConsoleMessage]:
    """Chromium's CORS issue (`Audits.issueAdded`) as a console line: `corsErrorStatus: <why> (failed parameter: ...)`;
    None for other issues, for warnings and for issues Chromium reports whatever happened."""
    details = (event.get("issue") or {}).get("details", {}).get("corsIssueDetails")
    if not details or details.get("isWarning"):
        return None
    if (details.get("corsErrorStatus") or {}).get("corsError") in UNRELIABLE_ISSUES:
        return None
    status = details.get("corsErrorStatus") or {}
    detail = status.get("corsError", "")
    if status.get("failedParameter"):
        detail += f" (failed parameter: {status['failedParameter']})"
    return ConsoleMessage("cors", f"corsErrorStatus: {detail}", (details.get("request") or {}).get("url", ""))


class CDPPage(FunctionPage):
    """A page target, attached in flat mode: its commands carry its session id."""

    calls = {"probe": PROBE_CALL, "start": START_CALL, "results": RESULTS_CALL, "run": RUN_CALL}

    def __init__(self, browser: CDPBrowser, session: str) -> None:
        super().__init__(browser.messages)
        self._browser = browser
        self.session = session
        self.committed: Optional[str] = None  # the loader of the main frame's current document

    def _call(self, call: str, argument: Any, timeout_ms: int) -> Any:
        # The argument is written into the expression as a literal (JSON is JavaScript): one evaluate, no handles.
        answer = self._browser.connection.command(
            "Runtime.evaluate",
            {"expression": f"({call})({json.dumps(argument)})", "awaitPromise": True, "returnByValue": True},
            timeout_s=timeout_ms / 1000 + SLACK_S,
            session=self.session,
        )
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            said = (details.get("exception") or {}).get("description") or details.get("text") or "an exception"
            raise ProtocolError(f"the page threw: {said}")
        return (answer.get("result") or {}).get("value")

    def _round_trip(self) -> None:
        self._browser.connection.command("Runtime.evaluate", {"expression": "0"}, session=self.session)


class CDPBrowser(Browser):
    """A browser behind a CDP WebSocket (its browser endpoint), with one tab per origin kept open for the run.
    `stop` ends the browser's processes once the session is over (its profile is thrown away: no clean exit)."""

    def __init__(self, url: str, info: Callable[[Dict[str, Any]], BrowserInfo], stop: Callable[[], None]) -> None:
        super().__init__()
        self._stop = stop
        self.messages = BrowserMessages()
        self._pages_by_session: Dict[str, CDPPage] = {}
        self._contexts: Dict[str, str] = {}  # permission -> browser context whose pages have it
        self.connection = JsonSocket(url, self._on_event)
        try:
            self.info = info(self.connection.command("Browser.getVersion", {}))
            self.connection.command("Security.setIgnoreCertificateErrors", {"ignore": True})  # the lab's run-time CA
            targets = self.connection.command("Target.getTargets", {}).get("targetInfos") or []
        except ProtocolError:
            self.connection.close()
            raise
        # The tab the browser started with.
        self._spare: Optional[str] = next((t["targetId"] for t in targets if t.get("type") == "page"), None)

    def _on_event(self, method: str, params: Dict[str, Any], session: Optional[str]) -> None:
        if method == "Page.frameNavigated":
            frame = params.get("frame") or {}
            page = self._pages_by_session.get(session or "")
            if page is not None and not frame.get("parentId"):
                page.committed = frame.get("loaderId")
        elif method == "Log.entryAdded":
            entry = params.get("entry") or {}
            self.messages.add(ConsoleMessage(entry.get("level", "info"), entry.get("text", ""), entry.get("url", "")))
        elif method == "Audits.issueAdded":
            message = cors_issue_message(params)
            if message is not None:
                self.messages.add(message)
        elif method == "Target.attachedToTarget":
            # A frame in a process of its own: its messages are reported on its own session. Its answers are not
            # waited for (this runs while another command waits for its own).
            for enable in _TARGET_DOMAINS:
                self.connection.send(enable, {}, session=params.get("sessionId"))
        elif method == "Inspector.targetCrashed" and session is not None:
            self.connection.failed[session] = "the page crashed"
        elif method == "Target.detachedFromTarget" and params.get("sessionId"):
            self.connection.failed.setdefault(params["sessionId"], "the page is gone")

    def _open(self, origin_url: str, permission: str = "") -> Page:
        if permission:
            where = {"browserContextId": self._context(permission)}
            target = self.connection.command("Target.createTarget", {"url": "about:blank", **where})["targetId"]
        else:
            target, self._spare = self._spare, None
        if target is None:
            target = self.connection.command("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.connection.command("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = self._pages_by_session[session] = CDPPage(self, session)
        for enable in ("Page.enable", *_TARGET_DOMAINS):
            self.connection.command(enable, {}, session=session)
        self.connection.command(
            "Target.setAutoAttach",
            {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": True},
            session=session,
        )
        self._navigate(page, origin_url, permission)
        return page

    def _context(self, permission: str) -> str:
        """The browser context for pages with this permission (created on first use)."""
        if permission not in self._contexts:
            created = self.connection.command("Target.createBrowserContext", {})
            self._contexts[permission] = created["browserContextId"]
        return self._contexts[permission]

    def _navigate(self, page: Page, origin_url: str, permission: str = "") -> None:
        assert isinstance(page, CDPPage)
        if permission:
            set_local_network_permission(self.connection.command, origin_url, permission, self._context(permission))
        url = origin_url + PAGE_PATH
        answer = self.connection.command("Page.navigate", {"url": url}, session=page.session)
        if answer.get("errorText"):
            raise ProtocolError(f"Page.navigate to {url}: {answer['errorText']}")
        # Committed: the new document exists, so the next call cannot land in the one it replaces.
        loader = answer.get("loaderId")
        self.connection.wait(lambda: page.committed == loader, f"Page.navigate to {url}", session=page.session)

    def clear_cookies(self, origin_urls: Sequence[str]) -> None:
        self.connection.command("Storage.clearCookies", {})
        for context in self._contexts.values():
            self.connection.command("Storage.clearCookies", {"browserContextId": context})

    def close(self) -> None:
        """End the browser: its profile is thrown away, so it need not shut down by itself."""
        self.connection.close()
        self._stop()
