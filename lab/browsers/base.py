"""The one interface every browser driver implements: open a page at an origin, run the probe.

Playwright-driven and WebDriver-driven browsers both fit behind it, so the
runner never knows how a browser is driven.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Callable, Collection, Dict, List, Sequence, Tuple

from .spaces import Spaces

PERMISSION_MARK = "#local-network="
"""A page key is an origin, or an origin and the local-network permission its page has (a context of its own)."""


def page_key(origin_url: str, permission: str = "") -> str:
    """The key of the page a case runs in: its origin, and the permission it needs if not the default."""
    return origin_url + PERMISSION_MARK + permission if permission else origin_url


def split_page_key(key: str) -> Tuple[str, str]:
    """(origin, permission) of a page key; permission "" is the browser's default."""
    origin, _, permission = key.partition(PERMISSION_MARK)
    return origin, permission


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

    def page(self, key: str, keep: Collection[str] = ()) -> Page:
        """The page for a page key (an origin, see `page_key`): kept from earlier use, else a new one, else the least
        recently used page with the same permission that is not in `keep` (pages with cases in flight), navigated
        to this origin."""
        pages = self._open_pages
        if key in pages:
            pages.move_to_end(key)
            return pages[key]
        origin_url, permission = split_page_key(key)
        if len(pages) >= self.max_pages:
            reusable = next((k for k in pages if k not in keep and split_page_key(k)[1] == permission), None)
            if reusable is not None:
                page = pages.pop(reusable)
                self._navigate(page, origin_url, permission)
                pages[key] = page
                return page
        pages[key] = page = self._open(origin_url, permission)
        return page

    def open_pages(self) -> Collection[str]:
        """The origins that have a page open now."""
        return self._open_pages.keys()

    @abstractmethod
    def _open(self, origin_url: str, permission: str = "") -> Page:
        """A new page (tab, window) loaded at this origin; with a permission (granted, denied), in a context where
        the origin has that local-network permission."""

    @abstractmethod
    def _navigate(self, page: Page, origin_url: str, permission: str = "") -> None:
        """Load the lab's page at another origin in an existing page (of the same permission context)."""

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
    spaces: Spaces = Spaces()  # address spaces to tell the browser (lab/browsers/spaces.py)

    def chromium_bypass(self) -> List[str]:
        """Chromium's bypass rules, the same whoever launches it (the lab or Playwright): `<-loopback>` first, since
        Chromium sends loopback names through the proxy once it is in the list and a later rule wins, so that the
        lab-assigned names after it go direct (appended last, every request went through the router)."""
        return ["<-loopback>", *self.bypass, *self.spaces.chromium_bypass()]


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
