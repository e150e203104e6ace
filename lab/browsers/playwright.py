"""Chromium and Firefox through Playwright: its own builds, or the system's binaries."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ..frontend import PAGE_PATH
from .base import Browser, BrowserInfo, BrowserUnavailable, ConsoleMessage, Page

PROBE_CALL = "spec => window.corsLabProbe(spec)"
PRODUCTS = {"chromium": "Chromium", "firefox": "Firefox"}


def launch_options(engine: str, executable: Optional[str]) -> Dict[str, Any]:
    """How to launch an engine: Playwright's build (no options) or a system binary."""
    options: Dict[str, Any] = {}
    if executable:
        options["executable_path"] = executable
        if engine == "firefox":
            options["channel"] = "moz-firefox"  # stock Firefox over WebDriver BiDi
    return options


class PlaywrightPage(Page):
    def __init__(self, page: Any) -> None:
        self._page = page
        self._console: List[ConsoleMessage] = []
        page.on("console", self._on_console)

    def _on_console(self, message: Any) -> None:
        location = message.location or {}
        self._console.append(ConsoleMessage(message.type, message.text, location.get("url", "")))

    def probe(self, spec: Dict[str, Any]) -> Dict[str, Any]:
        return self._page.evaluate(PROBE_CALL, spec)

    def console(self) -> List[ConsoleMessage]:
        messages, self._console = self._console, []
        return messages


class PlaywrightBrowser(Browser):
    """Launches in the calling thread: Playwright's sync API belongs to one thread."""

    def __init__(self, engine: str, executable: Optional[str], driver: str) -> None:
        from playwright.sync_api import Error, sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self._browser = getattr(self._playwright, engine).launch(**launch_options(engine, executable))
        except Error as exc:
            self._playwright.stop()
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise BrowserUnavailable(f"{engine} ({executable or 'Playwright build'}) failed to launch: {first_line}") from exc
        self._context = self._browser.new_context()
        self._pages: Dict[str, PlaywrightPage] = {}
        self.info = BrowserInfo(
            name=engine,
            engine=engine,
            product=PRODUCTS[engine] + ("" if not executable or "esr" not in executable else " ESR"),
            version=self._browser.version,
            driver=driver,
            executable=executable or getattr(self._playwright, engine).executable_path,
        )

    def page(self, origin_url: str) -> Page:
        if origin_url not in self._pages:
            page = self._context.new_page()
            wrapped = PlaywrightPage(page)
            page.goto(origin_url + PAGE_PATH)
            self._pages[origin_url] = wrapped
        return self._pages[origin_url]

    def clear_cookies(self) -> None:
        self._context.clear_cookies()

    def close(self) -> None:
        for closing in (self._context.close, self._browser.close, self._playwright.stop):
            try:
                closing()
            except Exception:
                pass
