"""The one interface every browser driver implements: open a page at an origin, run the probe.

Playwright-driven and WebDriver-driven browsers both fit behind it, so the
runner never knows how a browser is driven.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Callable, Collection, Dict, List, Sequence, Tuple


@dataclass(frozen=True)
class BrowserInfo:
    """What a browser is and how it is driven; written into every results file."""

    name: str  # what users pass to --browser
    engine: str  # chromium | firefox | webkit
    product: str
    version: str
    driver: str
    executable: str

    def to_dict(self) -> Dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class ConsoleMessage:
    level: str
    text: str
    url: str

    def mentions(self, token: str) -> bool:
        return token in self.text or token in self.url


class Page(ABC):
    """A page loaded at one origin, kept open for the whole run."""

    @abstractmethod
    def probe(self, spec: Dict[str, Any]) -> Dict[str, Any]:
        """Run `window.corsLabProbe(spec)` in the page and return its result."""

    @abstractmethod
    def start(self, specs: Sequence[Dict[str, Any]]) -> None:
        """Begin these cases in the page (`window.corsLabStart`): each spec has a `token`, `repeat` and `pause_ms`."""

    @abstractmethod
    def results(self, tokens: Sequence[str], timeout_ms: int) -> Dict[str, Any]:
        """Wait for started cases: token -> {"attempts": [probe result, ...], "ms": duration} (None if unknown)."""

    @abstractmethod
    def run(self, specs: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
        """Start these cases together and wait for them, in one round trip: as `results`."""

    @abstractmethod
    def console(self, flush: bool = True) -> List[ConsoleMessage]:
        """Console messages the browser has reported so far (and forget them); `flush` first makes a round trip to
        the page, so that messages the browser sent before it are delivered."""


class Browser(ABC):
    """One launched browser with one profile (cookies, caches) for the whole run."""

    info: BrowserInfo

    max_pages = 8
    """Pages kept open at once. A page for a new origin beyond these is an old one navigated there: a new tab costs
    Firefox about 0.67 s of CPU, a navigation 0.17 s (measured here), and the library needs 23 page origins."""

    def __init__(self) -> None:
        self._open_pages: OrderedDict[str, Page] = OrderedDict()  # origin -> page, least recently used first

    def page(self, origin_url: str, keep: Collection[str] = ()) -> Page:
        """The page for an origin: kept from earlier use, else a new one, else the least recently used page that is
        not in `keep` (pages with cases in flight), navigated to this origin."""
        pages = self._open_pages
        if origin_url in pages:
            pages.move_to_end(origin_url)
            return pages[origin_url]
        if len(pages) >= self.max_pages:
            reusable = next((url for url in pages if url not in keep), None)
            if reusable is not None:
                page = pages.pop(reusable)
                self._navigate(page, origin_url)
                pages[origin_url] = page
                return page
        pages[origin_url] = page = self._open(origin_url)
        return page

    def open_pages(self) -> Collection[str]:
        """The origins that have a page open now."""
        return self._open_pages.keys()

    @abstractmethod
    def _open(self, origin_url: str) -> Page:
        """A new page (tab, window) loaded at this origin."""

    @abstractmethod
    def _navigate(self, page: Page, origin_url: str) -> None:
        """Load the lab's page at another origin in an existing page."""

    @abstractmethod
    def clear_cookies(self, origin_urls: Sequence[str]) -> None:
        """Forget cookies (at least those of these origins' hosts), so that a case that set one cannot change a later case."""

    @abstractmethod
    def close(self) -> None:
        """Close the browser; never raises."""


@dataclass(frozen=True)
class Routing:
    """How a browser the lab launches reaches origins served as written: every request goes to the lab's router
    (a proxy on loopback), except the lab-assigned `*.localhost` names in `bypass`, which it reaches directly."""

    proxy: str  # host:port of lab.routing.Router
    bypass: Tuple[str, ...] = ()

    def chromium_bypass(self) -> List[str]:
        """Chromium's bypass rules, the same whoever launches it (the lab or Playwright): `<-loopback>` first, since
        Chromium sends loopback names through the proxy once it is in the list and a later rule wins, so that the
        lab-assigned names after it go direct (appended last, every request went through the router)."""
        return ["<-loopback>", *self.bypass]


@dataclass(frozen=True)
class Candidate:
    """A browser found on this machine, not yet launched. `launch(routing=...)` may be given the lab's routing;
    `routable` says whether this launcher applies it (remote browsers cannot reach the lab's loopback router)."""

    name: str
    engine: str
    executable: str
    driver: str
    launch: Callable[..., Browser]
    system_binary: bool = False
    routable: bool = False
    silent: str = ""  # why this browser's refusals carry no reason of its own ("": it tells them)


class BrowserUnavailable(Exception):
    """A browser was requested (or found) but cannot be used; the message says how to fix it."""
