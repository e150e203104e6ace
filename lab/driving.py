"""The browser a session launched and the cases out in its pages: it answers with what the pages said, or with the
lab's words for why a page could not (the browser failed); it never makes rows, and never waits for a pause.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Collection, Dict, List, Optional, Sequence, Tuple

from .browsers.base import Browser, BrowserInfo, Candidate, Page, Routing
from .flights import Flight

Answers = Dict[str, Any]
"""What a page said for each token it ran (missing: the page lost the case)."""


def failure_text(exc: Exception) -> str:
    """A browser that failed during a case, in the words every such cell carries."""
    return f"browser failed during the case: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


class BrowserDriver:
    """One browser instance, (re)launched on demand, and the paused cases started in its pages."""

    def __init__(
        self, candidate: Candidate, routing: Optional[Routing], on_launch: Callable[[BrowserInfo], None]
    ) -> None:
        self.candidate = candidate
        self.routing = routing
        self.on_launch = on_launch
        self.browser: Optional[Browser] = None
        self.launch_failure = ""
        self.deferred: List[Flight] = []  # started and collected later, when their pauses are over

    def launch(self) -> BrowserInfo:
        """Start the browser; raises what the launcher raises."""
        self.browser = self.candidate.launch(routing=self.routing)
        self.on_launch(self.browser.info)
        return self.browser.info

    def relaunch(self) -> None:
        """Replace a browser that died. If it cannot come back, `not_running` says why."""
        if self.browser is not None:
            self.browser.close()
        self.browser = None
        try:
            self.launch()
        except Exception as exc:
            self.launch_failure = f"browser could not be restarted: {exc}"

    def close(self) -> None:
        if self.browser is not None:
            self.browser.close()
            self.browser = None

    @property
    def running(self) -> bool:
        return self.browser is not None

    def not_running(self) -> str:
        """Why a case could not start: the browser could not be (re)launched."""
        return self.launch_failure or "the browser is not running"

    def pages_kept(self) -> int:
        """How many pages the browser keeps open (navigated rather than opened beyond that)."""
        return self.browser.max_pages if self.browser is not None else Browser.max_pages

    def run(self, page_url: str, flights: Sequence[Flight]) -> Tuple[Answers, Optional[str]]:
        """Run cases that share a page and wait for them, in one round trip: their answers, or why none came."""
        try:
            return self._page(page_url).run([f.spec for f in flights]), None
        except Exception as exc:
            return {}, failure_text(exc)

    def start(self, page_url: str, flights: Sequence[Flight]) -> Optional[str]:
        """Start cases that pause, to be collected later (see `take_due`); why they did not start, or None."""
        try:
            self._page(page_url).start([f.spec for f in flights])
        except Exception as exc:
            return failure_text(exc)
        self.deferred += flights
        return None

    def results(self, page_url: str, flights: Sequence[Flight]) -> Tuple[Answers, Optional[str]]:
        """The answers of started cases, waiting for those still fetching; or why none came."""
        try:
            longest = max(f.spec["timeout_ms"] * f.spec["repeat"] for f in flights)
            return self._page(page_url).results([f.token for f in flights], longest), None
        except Exception as exc:
            return {}, failure_text(exc)

    def take_due(self, due_only: bool) -> List[Flight]:
        """The started cases whose pauses are over (or all of them), no longer counted as out."""
        now = time.perf_counter()
        due = [f for f in self.deferred if not due_only or f.ready_at <= now]
        if due:
            self.deferred = [f for f in self.deferred if f not in due]
        return due

    def abandon(self) -> List[Flight]:
        """The started cases, given up (their browser died)."""
        lost, self.deferred = self.deferred, []
        return lost

    def pages(self, page_urls: Sequence[str]) -> List[Page]:
        """The open pages among these (a page that is not open any more has nothing more to say)."""
        if self.browser is None:
            return []
        busy = self._busy_pages()
        return [
            self.browser.page(url, keep=busy) for url in dict.fromkeys(page_urls) if url in self.browser.open_pages()
        ]

    def clear_cookies(self, origin_urls: Collection[str]) -> None:
        if self.browser is not None:
            self.browser.clear_cookies(sorted(set(origin_urls)))

    def _page(self, page_url: str) -> Page:
        assert self.browser is not None, "callers check `running` first"
        return self.browser.page(page_url, keep=self._busy_pages())

    def _busy_pages(self) -> List[str]:
        """Pages not to navigate away from: a paused case is still running in each."""
        return [flight.page_url for flight in self.deferred]
