"""The one interface every browser driver implements: open a page at an origin, run the probe.

Playwright-driven and WebDriver-driven browsers both fit behind it, so the
runner never knows how a browser is driven.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, List, Sequence, Tuple


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
    def console(self) -> List[ConsoleMessage]:
        """Console messages the browser has reported so far (and forget them)."""


class Browser(ABC):
    """One launched browser with one profile (cookies, caches) for the whole run."""

    info: BrowserInfo

    @abstractmethod
    def page(self, origin_url: str) -> Page:
        """The page for an origin, opened on first use and reused afterwards."""

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


class BrowserUnavailable(Exception):
    """A browser was requested (or found) but cannot be used; the message says how to fix it."""
