"""A browser over WebDriver BiDi, spoken directly: the lab's own small client of the standard protocol.

Stock Firefox speaks BiDi. Driving it through Playwright cost the lab a node process in between, an event
record for every network request of the run (Playwright subscribes to all of them) and about 0.1 s of CPU per
page load, and Playwright passed on none of Firefox's CORS messages. The lab needs a handful of commands (new
tab, navigate, call a function, delete cookies, close) and one event, `log.entryAdded`, which carries Firefox's
own reason for each refusal ("Cross-Origin Request Blocked: ... (Reason: ...)").
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Optional, Sequence

from ..frontend import PAGE_PATH
from .base import Browser, BrowserInfo, ConsoleMessage, Page
from .calls import PROBE_CALL, RESULTS_CALL, RUN_CALL, SLACK_S, START_CALL, BrowserMessages, FunctionPage
from .wire import JsonSocket, ProtocolError

# Arguments travel as one JSON string and objects come back as one: far cheaper than BiDi's typed values.
LNA_PERMISSIONS = ("loopback-network", "local-network")
"""Firefox's local-network permissions, by target space (ESR 153; `local-network-access` is no name there)."""
_TAKES_JSON = "async json => ({call})(JSON.parse(json))"
_RETURNS_JSON = "async json => JSON.stringify(await ({call})(JSON.parse(json)))"
_PROBE = _RETURNS_JSON.format(call=PROBE_CALL)
_START = _TAKES_JSON.format(call=START_CALL)
_RESULTS = _TAKES_JSON.format(call=RESULTS_CALL)  # these two return a JSON string already
_RUN = _TAKES_JSON.format(call=RUN_CALL)


class BiDiPage(FunctionPage):
    """A top-level browsing context (a tab) of a BiDi browser."""

    calls = {"probe": _PROBE, "start": _START, "results": _RESULTS, "run": _RUN}
    prompts_together = 1  # Firefox (see FunctionPage)

    def __init__(self, browser: BiDiBrowser, context: str) -> None:
        super().__init__(browser.messages)
        self._browser = browser
        self.context = context

    def _call(self, function: str, argument: Any, timeout_ms: int) -> Any:
        result = self._browser.connection.command(
            "script.callFunction",
            {
                "functionDeclaration": function,
                "arguments": [{"type": "string", "value": json.dumps(argument)}],
                "target": {"context": self.context},
                "awaitPromise": True,
                "resultOwnership": "none",
            },
            timeout_s=timeout_ms / 1000 + SLACK_S,
        )
        if result.get("type") == "exception":
            details = result.get("exceptionDetails") or {}
            raise ProtocolError(f"the page threw: {details.get('text', 'an exception')}")
        return (result.get("result") or {}).get("value")

    def _to_front(self) -> None:
        """Firefox shows a permission prompt, and starts its timeout, only in the tab in front (measured: a
        local-network request of a background tab waited past the case's timeout)."""
        self._browser.connection.command("browsingContext.activate", {"context": self.context})

    def _round_trip(self) -> None:
        self._browser.connection.command(
            "script.evaluate", {"expression": "0", "target": {"context": self.context}, "awaitPromise": False}
        )


class BiDiBrowser(Browser):
    """A browser behind a BiDi WebSocket, with one tab per origin kept open for the run. `stop` ends whatever
    runs the browser (its process) once the session is over; `clean_exit` says whether to close it first."""

    def __init__(
        self,
        url: str,
        info: Callable[[Dict[str, Any]], BrowserInfo],
        stop: Callable[[], None],
        clean_exit: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__()
        self._stop = stop
        self._clean_exit = clean_exit
        self.messages = BrowserMessages()
        self.connection = JsonSocket(url, self._on_event)
        try:
            session = self.connection.command(
                "session.new",
                {
                    "capabilities": {
                        "alwaysMatch": {
                            "acceptInsecureCerts": True,  # the lab's run-time CA (lab/certs.py)
                            "unhandledPromptBehavior": {"default": "ignore"},
                        }
                    }
                },
            )
            self.info = info(session.get("capabilities") or {})
            self.connection.command("session.subscribe", {"events": ["log.entryAdded"]})
            tabs = self.connection.command("browsingContext.getTree", {"maxDepth": 0}).get("contexts") or []
        except ProtocolError:
            self.connection.close()
            raise
        self._spare: Optional[str] = tabs[0]["context"] if tabs else None  # the tab the browser started with
        self._user_contexts: Dict[str, str] = {}  # permission -> user context whose pages have it

    def _on_event(self, method: str, params: Dict[str, Any], session: Optional[str]) -> None:
        if method != "log.entryAdded":
            return
        frames = (params.get("stackTrace") or {}).get("callFrames") or [{}]
        # Firefox's CORS refusals arrive as `javascript` entries (errors of the page, not console calls).
        level = params.get("level", "info") if params.get("type") == "console" else "error"
        self.messages.add(
            ConsoleMessage("warning" if level == "warn" else level, params.get("text") or "", frames[0].get("url", ""))
        )

    def _open(self, origin_url: str, permission: str = "") -> Page:
        context, self._spare = (None, self._spare) if permission else (self._spare, None)
        if context is None:
            where = {"userContext": self._user_context(permission)} if permission else {}
            created = self.connection.command("browsingContext.create", {"type": "tab", "background": True, **where})
            context = created["context"]
        page = BiDiPage(self, context)
        self._navigate(page, origin_url, permission)
        return page

    def _user_context(self, permission: str) -> str:
        """The user context for pages with this permission (created on first use)."""
        if permission not in self._user_contexts:
            self._user_contexts[permission] = self.connection.command("browser.createUserContext", {})["userContext"]
        return self._user_contexts[permission]

    def _navigate(self, page: Page, origin_url: str, permission: str = "") -> None:
        assert isinstance(page, BiDiPage)
        for name in LNA_PERMISSIONS if permission else ():
            self.connection.command(
                "permissions.setPermission",
                {
                    "descriptor": {"name": name},
                    "state": permission,
                    "origin": origin_url,
                    "userContext": self._user_context(permission),
                },
            )
        # `interactive`: the new document exists, so the next call cannot land in the one it replaces.
        self.connection.command(
            "browsingContext.navigate", {"context": page.context, "url": origin_url + PAGE_PATH, "wait": "interactive"}
        )

    def clear_cookies(self, origin_urls: Sequence[str]) -> None:
        self.connection.command("storage.deleteCookies", {})
        for user_context in self._user_contexts.values():
            self.connection.command(
                "storage.deleteCookies", {"partition": {"type": "storageKey", "userContext": user_context}}
            )

    def close(self) -> None:
        """Ask the browser to close when `clean_exit` says its exit matters (else stopping it is enough)."""
        if self._clean_exit():
            try:
                self.connection.command("browser.close", {}, timeout_s=10)
            except ProtocolError:
                pass  # already gone: stopping its process below is enough
        self.connection.close()
        self._stop()
