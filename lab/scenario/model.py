"""Plain, validated data that describes one scenario. Nothing here runs anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from .apptarget import AppTarget
from .spaces import more_private

Headers = Tuple[Tuple[str, str], ...]
"""Header pairs in order; duplicates are kept because they matter to browsers."""

OUTCOMES = ("allowed", "blocked", "error", "timeout", "unsupported")
EXPECTABLE = ("allowed", "blocked")
UNMEASURED = "error"
"""`expect = "error"` (bare): the case could not be measured when the file was written (`cors-lab scan` writes it
for a case whose cells were error / timeout). It is no expectation at all: it never matches, whatever the outcome,
so that a file written from failed measurements can never pass as an all-clear."""
APP_ERROR = "error: "
"""`expect_by_version = { "flask-cors<6" = "error: nothing to repeat" }`: under those releases the request makes the
app itself fail (an exception escapes Flask) with that text; only such an error matches, never the lab's own."""


def split_expectation(value: str) -> Tuple[str, Optional[str]]:
    """("error", text) for an expected app failure, else (outcome, None)."""
    if value.startswith(APP_ERROR):
        return "error", value[len(APP_ERROR) :].strip()
    return value, None


ENGINES = ("chromium", "firefox", "webkit")


def is_localhost_name(host: str) -> bool:
    """`localhost` and `*.localhost`: names every browser resolves to loopback by itself."""
    return host == "localhost" or host.endswith(".localhost")


@dataclass(frozen=True)
class Origin:
    """A named origin: `http://app.localhost` gets its port when the lab runs; an origin written with a real host
    name or an explicit port (`https://app.example.com`, `http://localhost:5173`) is served exactly as written."""

    name: str
    scheme: str
    host: str
    port: Optional[int] = None  # None: the lab assigns one (the *.localhost form)
    line: int = 0
    space: str = "loopback"
    """public | local | loopback: the address space the browser is told this origin lives in (lab/scenario/spaces)."""

    @property
    def as_written(self) -> Optional[str]:
        """The origin as a browser serialises it, for an origin served as written; None for lab-assigned ones."""
        if self.port is None:
            return None
        default = 443 if self.scheme == "https" else 80
        return f"{self.scheme}://{self.host}" + ("" if self.port == default else f":{self.port}")


@dataclass(frozen=True)
class Answer:
    """A fixed response: used for explicit OPTIONS handlers, hooks and error handlers."""

    status: int
    body: str = ""
    headers: Headers = ()


@dataclass(frozen=True)
class Route:
    path: str
    methods: Tuple[str, ...]
    status: int = 200
    body: Optional[str] = None
    headers: Headers = ()
    raw: bool = False
    action: str = "respond"  # respond | raise | abort | redirect | hang
    abort_status: Optional[int] = None
    redirect_to: Optional[str] = None
    redirect_status: int = 302
    cross_origin: Optional[Dict[str, Any]] = None
    preflight: Optional[Answer] = None
    line: int = 0


@dataclass(frozen=True)
class Blueprint:
    name: str
    url_prefix: Optional[str] = None
    parent: Optional[str] = None
    cors: Optional[Dict[str, Any]] = None
    routes: Tuple[Route, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class Hook:
    """A hand-written `after_request` or `before_request` function, as the seeds write them."""

    when: str  # after_request | before_request
    headers: Headers = ()
    only_origins: Optional[Tuple[str, ...]] = None
    methods: Tuple[str, ...] = ("OPTIONS",)
    response: str = "empty"  # before_request: empty | default-options
    status: int = 200


@dataclass(frozen=True)
class ErrorHandler:
    code: int
    answer: Answer


@dataclass(frozen=True)
class Backend:
    config: Dict[str, Any] = field(default_factory=dict)
    cors: Optional[Dict[str, Any]] = None
    cors_init: str = "constructor"  # constructor | init_app
    order: Tuple[str, ...] = ("cors", "hooks", "routes", "blueprints")
    routes: Tuple[Route, ...] = ()
    blueprints: Tuple[Blueprint, ...] = ()
    hooks: Tuple[Hook, ...] = ()
    error_handlers: Tuple[ErrorHandler, ...] = ()
    proxy_headers: Headers = ()
    start_error: Dict[str, str] = field(default_factory=dict)
    """Version condition -> text the start-up error must contain: releases under which the app refuses to start."""
    app: Optional[AppTarget] = None
    """The user's own app (`package.module:create_app()`): routes, hooks and CORS are the app's, not described here."""
    project: Optional[Path] = None  # where `app` is imported from; None: the directory the lab runs in
    env: Dict[str, str] = field(default_factory=dict)  # set while the app is imported and built (placeholders allowed)
    requirements: Tuple[str, ...] = ()  # installed into each pin's environment; default: the project's own
    python: Optional[str] = None
    """The app's own interpreter (`.venv/bin/python`, relative to the scenario file); None: found (see lab/backend/appenv)."""
    setup: Optional[str] = None
    """A shell command run once in the app's environment and project folder before it serves (`flask db upgrade`)."""

    def start_error_in(self, versions: Optional[Mapping[str, str]]) -> Optional[str]:
        """The start-up error text expected under these versions, or None when the app should start."""
        from .versions import holds

        for condition, text in self.start_error.items():
            if versions and holds(condition, versions):
                return text
        return None


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    page: str = "app"
    target: str = "api"
    method: str = "GET"
    headers: Dict[str, str] = field(default_factory=dict)
    body: Optional[str] = None
    credentials: str = "same-origin"
    mode: str = "cors"
    redirect: str = "follow"
    read_headers: Tuple[str, ...] = ()
    repeat: int = 1  # fetch the same URL this many times (preflight cache, Max-Age)
    pause_ms: int = 0  # between repeats
    sandboxed: bool = False  # fetch from <iframe sandbox="allow-scripts">: Origin: null
    expect: str = "allowed"
    expect_per_browser: Dict[str, str] = field(default_factory=dict)
    expect_by_version: Dict[str, str] = field(default_factory=dict)
    expect_cookies_sent: Optional[bool] = None  # did any request of the case reach the server with a Cookie header
    expect_cookies_sent_per_browser: Dict[str, bool] = field(default_factory=dict)
    description: str = ""
    attacker: bool = False  # the page is an attacker's (`cors-lab scan` writes it for attacker origins)
    accepted: Optional[str] = None  # why a credentialed read by this attacker page is fine (only with attacker)
    local_network: str = "prompt"  # the page's local-network permission: prompt | granted | denied
    line: int = 0

    def cookies_expected_in(self, engine: str) -> Optional[bool]:
        """Whether a cookie should reach the server in this engine (None: not part of the expectation)."""
        return self.expect_cookies_sent_per_browser.get(engine, self.expect_cookies_sent)

    def expected_in(self, engine: str, versions: Optional[Mapping[str, str]] = None) -> str:
        """The expectation for one engine and pin: known browser and version differences are data.

        A browser-specific expectation wins; then the first version condition that holds; then `expect`.
        """
        if engine in self.expect_per_browser:
            return self.expect_per_browser[engine]
        from .versions import holds

        for condition, outcome in self.expect_by_version.items():
            if versions and holds(condition, versions):
                return outcome
        return self.expect


@dataclass(frozen=True)
class Claim:
    """A claim from an article, and the case whose outcome decides it."""

    text: str
    source: str
    case: str
    holds_if: str  # the claim is true when the case's outcome is this
    holds_if_preflights: Optional[int] = None  # ... and this many preflights reached the server
    holds_if_readable: Optional[str] = None  # ... and the page could read this response header

    def to_dict(self) -> Dict[str, Any]:
        return {
            "text": self.text,
            "source": self.source,
            "case": self.case,
            "holds_if": self.holds_if,
            "holds_if_preflights": self.holds_if_preflights,
            "holds_if_readable": self.holds_if_readable,
        }


@dataclass(frozen=True)
class Scenario:
    id: str
    path: Path
    title: str
    description: str
    source: str
    tags: Tuple[str, ...]
    origins: Dict[str, Origin]
    backend: Backend
    cases: Tuple[Case, ...]
    claims: Tuple[Claim, ...] = ()

    def local_network_request(self, case: Case) -> bool:
        """Whether the case's page reaches a more private address space (a Local Network Access check applies)."""
        return more_private(self.origins[case.target].space, self.origins[case.page].space)

    def expected(self, case: Case, engine: str, versions: Optional[Mapping[str, str]] = None) -> str:
        """`error` where the backend is expected not to start under these versions, else the case's expectation."""
        if self.backend.start_error_in(versions) is not None:
            return "error"
        return case.expected_in(engine, versions)

    @property
    def group(self) -> str:
        return self.id.rsplit("/", 1)[0] if "/" in self.id else ""
