"""Find the browsers on this machine and make them launchable, as the driver table (lab/browsers/drivers.py) says.

Sources per engine, best first: Playwright's build; the system's binary (chromium, google-chrome; firefox,
firefox-esr); for WebKit, WebKitGTK's MiniBrowser through WebKitWebDriver, or Safari through safaridriver.
Remote W3C WebDriver endpoints (`--webdriver NAME=URL`) and Playwright servers (`--connect`) are added by the caller.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from .base import Browser, BrowserUnavailable, Candidate, Routing
from .drivers import (
    BUILD,
    ENGINES,
    FIREFOX_THROUGH_PLAYWRIGHT,
    PLAYWRIGHT,
    SAFARI,
    SYSTEM,
    WEBDRIVER_SILENT,
    WEBKITGTK,
    DriverRow,
    choose,
    rows_for,
)

KNOWN = ENGINES
SYSTEM_BINARIES: Dict[str, Sequence[str]] = {
    "chromium": ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"),
    "firefox": ("firefox-esr", "firefox"),
}
MINIBROWSER_GLOBS = (
    "/usr/lib/*/webkit2gtk-4.*/MiniBrowser",
    "/usr/libexec/webkit2gtk-4.*/MiniBrowser",
    "/usr/lib/webkit2gtk-4.*/MiniBrowser",
)
INSTALL_HINTS: Dict[str, str] = {
    "chromium": "python -m playwright install chromium   (no download access? apt-get install chromium)",
    "firefox": "python -m playwright install firefox   (no download access? apt-get install firefox-esr)",
    "webkit": "python -m playwright install webkit   (no download access? apt-get install webkit2gtk-driver xvfb;"
    " on macOS: safaridriver --enable)",
}
REMOTE_ENGINES = {
    "safari": "webkit",
    "webkit": "webkit",
    "minibrowser": "webkit",
    "chrome": "chromium",
    "chromium": "chromium",
    "msedge": "chromium",
    "microsoftedge": "chromium",
    "firefox": "firefox",
}


def playwright_browsers_folder() -> str:
    """Where `playwright install` puts its browsers (PLAYWRIGHT_BROWSERS_PATH, else the platform's cache folder)."""
    configured = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if configured == "0":  # installed inside the playwright package itself
        import playwright

        return os.path.join(os.path.dirname(playwright.__file__), "driver", "package", ".local-browsers")
    if configured:
        return configured
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Caches/ms-playwright")
    if sys.platform == "win32":
        return os.path.join(os.environ.get("LOCALAPPDATA", os.path.expanduser("~")), "ms-playwright")
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "ms-playwright")


def _playwright_builds() -> Dict[str, str]:
    """Executables of Playwright's own browser builds that are installed. Asking Playwright starts its node driver
    (half a second of CPU), so only when its browsers folder holds a build of some engine at all."""
    try:
        entries = os.listdir(playwright_browsers_folder())
    except OSError:
        entries = []
    if not any(entry.startswith(KNOWN) for entry in entries):
        return {}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dependency
        return {}
    found: Dict[str, str] = {}
    with sync_playwright() as playwright:
        for engine in KNOWN:
            path = getattr(playwright, engine).executable_path
            if path and os.path.exists(path):
                found[engine] = path
    return found


def _system_binary(engine: str) -> Optional[str]:
    for name in SYSTEM_BINARIES.get(engine, ()):
        path = shutil.which(name)
        if path:
            return os.path.realpath(path) if engine == "firefox" else path
    return None


def minibrowser() -> Optional[str]:
    for pattern in MINIBROWSER_GLOBS:
        for path in sorted(glob.glob(pattern), reverse=True):
            if os.access(path, os.X_OK):
                return path
    return None


def _playwright_launcher(
    engine: str, executable: Optional[str], driver: str, args: Sequence[str] = ()
) -> Callable[..., Browser]:
    def launch(routing: Optional[Routing] = None) -> Browser:
        from .playwright import PlaywrightBrowser

        return PlaywrightBrowser(engine, executable, driver, args=args, routing=routing)

    return launch


def _firefox_launcher(executable: str, driver: str, args: Sequence[str] = ()) -> Callable[..., Browser]:
    def launch(routing: Optional[Routing] = None) -> Browser:
        from .firefox import launch_firefox

        return launch_firefox(executable, driver, args, routing)

    return launch


def _chromium_launcher(executable: str, driver: str, args: Sequence[str] = ()) -> Callable[..., Browser]:
    def launch(routing: Optional[Routing] = None) -> Browser:
        from .chromium import launch_chromium

        return launch_chromium(executable, driver, args, routing)

    return launch


def _webkitgtk_launcher(webdriver: str, binary: str) -> Callable[..., Browser]:
    def launch(routing: Optional[Routing] = None) -> Browser:
        from .webdriver import WebDriverBrowser, start_local_driver, start_virtual_display

        helpers: List[Any] = []
        env = dict(os.environ)
        if routing is not None:  # WebKitGTK takes its proxy from the environment MiniBrowser inherits from the driver
            proxy = f"http://{routing.proxy}"
            bypass = ",".join(("127.0.0.1", *routing.bypass))  # 127.0.0.1: the driver's own connection to MiniBrowser
            env.update(
                http_proxy=proxy,
                https_proxy=proxy,
                HTTP_PROXY=proxy,
                HTTPS_PROXY=proxy,
                no_proxy=bypass,
                NO_PROXY=bypass,
            )
        if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
            display, env["DISPLAY"] = start_virtual_display()
            helpers.append(display)
        try:
            driver, endpoint = start_local_driver([webdriver], env)
        except BrowserUnavailable:
            for helper in helpers:
                helper.stop()
            raise
        helpers.append(driver)
        capabilities = {
            "browserName": "MiniBrowser",
            "acceptInsecureCerts": True,  # the lab's run-time CA
            "webkitgtk:browserOptions": {"binary": binary, "args": ["--automation"]},
        }
        return WebDriverBrowser(
            endpoint,
            capabilities,
            "webkit",
            "webkit",
            "WebKitGTK MiniBrowser",
            "webdriver (WebKitWebDriver)",
            binary,
            helpers,
        )

    return launch


def _safaridriver_launcher(safaridriver: str) -> Callable[..., Browser]:
    def launch(routing: Optional[Routing] = None) -> Browser:
        from .webdriver import WebDriverBrowser, start_local_driver

        driver, endpoint = start_local_driver([safaridriver])
        return WebDriverBrowser(
            endpoint,
            {"browserName": "safari"},
            "webkit",
            "webkit",
            "Safari",
            "webdriver (safaridriver)",
            safaridriver,
            [driver],
        )

    return launch


def remote_candidate(spec: str, extra_capabilities: Optional[Dict[str, Any]] = None) -> Candidate:
    """A browser behind a W3C WebDriver endpoint: `NAME=URL`, NAME being the browserName (safari, chrome, ...).

    The remote browser must reach this machine's loopback origins, so the endpoint
    has to run on this machine (safaridriver, a grid node here) until origins can
    be served under other host names.
    """
    name, separator, url = spec.partition("=")
    if not separator or not name or not url.startswith(("http://", "https://")):
        raise BrowserUnavailable(f"--webdriver {spec!r}: expected NAME=URL, for example safari=http://127.0.0.1:4444")
    engine = REMOTE_ENGINES.get(name.lower())
    if engine is None:
        raise BrowserUnavailable(
            f"--webdriver {spec!r}: unknown browser {name!r}; expected one of: {', '.join(REMOTE_ENGINES)}"
        )
    capabilities = {"browserName": name, **(extra_capabilities or {})}

    def launch(routing: Optional[Routing] = None) -> Browser:
        from .webdriver import WebDriverBrowser

        return WebDriverBrowser(url, capabilities, name, engine, f"{name} (remote)", f"webdriver (remote {url})", url)

    return Candidate(name, engine, url, f"webdriver (remote {url})", launch, silent=WEBDRIVER_SILENT)


def playwright_server_candidate(spec: str, executables: Dict[str, str]) -> Candidate:
    """A browser launched by a Playwright server (`playwright run-server`): `ENGINE=ws://host:port/`.

    `executables` names the browser binary on the server's machine, for servers without Playwright's own builds
    (the server must then run with --unsafe, which lets clients choose the executable).
    """
    engine, separator, url = spec.partition("=")
    if not separator or engine not in KNOWN or not url.startswith(("ws://", "wss://")):
        raise BrowserUnavailable(
            f"--connect {spec!r}: expected ENGINE=ws://HOST:PORT/ with ENGINE one of {', '.join(KNOWN)}"
        )
    name, executable = f"remote-{engine}", executables.get(engine)
    driver = f"playwright server {url}"

    def launch(routing: Optional[Routing] = None) -> Browser:
        from .playwright import PlaywrightBrowser

        return PlaywrightBrowser(engine, executable, driver, connect=url, name=name, routing=routing)

    # A server on this machine launches its browser with the lab's routing (the launch options travel with the
    # connection); one elsewhere cannot reach the lab's router on 127.0.0.1.
    on_this_machine = urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")
    silent = FIREFOX_THROUGH_PLAYWRIGHT if engine == "firefox" else ""
    return Candidate(name, engine, url, driver, launch, routable=on_this_machine, silent=silent)


def parse_capabilities(text: str) -> Dict[str, Any]:
    """Capabilities as JSON text, or @FILE holding JSON."""
    try:
        raw = open(text[1:], encoding="utf-8").read() if text.startswith("@") else text
        value = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise BrowserUnavailable(f"--webdriver-capabilities: not JSON (or @file of JSON): {exc}") from exc
    if not isinstance(value, dict):
        raise BrowserUnavailable("--webdriver-capabilities: must be a JSON object")
    return value


def _sources(engine: str, bundled: Mapping[str, str]) -> Dict[str, Tuple[str, ...]]:
    """Where this engine's browsers are here: source -> the paths its launcher needs (lab/browsers/drivers.py)."""
    found: Dict[str, Tuple[str, ...]] = {}
    if engine in bundled:
        found[BUILD] = (bundled[engine],)
    if engine == "webkit":
        webdriver, binary, safari = shutil.which("WebKitWebDriver"), minibrowser(), shutil.which("safaridriver")
        if webdriver and binary:
            found[WEBKITGTK] = (binary, webdriver)
        if safari:
            found[SAFARI] = (safari,)
    else:
        system = _system_binary(engine)
        if system:
            found[SYSTEM] = (system,)
    return found


def _candidate(row: DriverRow, paths: Tuple[str, ...], args: Sequence[str], name: str) -> Candidate:
    """The table row made launchable: which launcher runs this source with this driver."""
    system = row.source != BUILD
    if row.driver == PLAYWRIGHT:
        launch = _playwright_launcher(row.engine, paths[0] if system else None, row.described, args)
    elif row.source == WEBKITGTK:
        launch = _webkitgtk_launcher(paths[1], paths[0])
    elif row.source == SAFARI:
        launch = _safaridriver_launcher(paths[0])
    elif row.engine == "firefox":
        launch = _firefox_launcher(paths[0], row.described, args)
    else:
        launch = _chromium_launcher(paths[0], row.described, args)
    return Candidate(
        name, row.engine, paths[0], row.described, launch, system_binary=system, routable=True, silent=row.silent
    )


def find_browsers(
    extra_args: Optional[Dict[str, Sequence[str]]] = None, drivers: Optional[Mapping[str, str]] = None
) -> List[Candidate]:
    """Every browser the lab can drive here, one per engine, the best source first, with the driver the table
    (lab/browsers/drivers.py) and `drivers` (--driver: engine or "*" -> playwright | native) choose.
    `extra_args`: launch arguments per engine."""
    extra_args = extra_args or {}
    bundled = _playwright_builds()
    candidates: List[Candidate] = []
    for engine in KNOWN:
        found = _sources(engine, bundled)
        row = choose(engine, list(found), drivers or {})
        if row is not None:
            candidates.append(_candidate(row, found[row.source], extra_args.get(engine, ()), engine))
    return candidates


def every_driver(engines: Sequence[str]) -> List[Tuple[DriverRow, Candidate]]:
    """Each way these engines can be run here, each engine's default first (for `cors-lab doctor`), named
    ENGINE-DRIVER so that one run can try them beside the browsers a run uses (named ENGINE)."""
    bundled = _playwright_builds()  # once: asking Playwright starts its node driver
    made = []
    for engine in engines:
        found = _sources(engine, bundled)
        made += [
            (row, _candidate(row, found[row.source], (), f"{engine}-{row.driver}"))
            for row in rows_for(engine, list(found))
        ]
    return made


def select_browsers(requested: Sequence[str], found: Sequence[Candidate]) -> List[Candidate]:
    """The requested browsers (default: all found); a missing one is an error that says what to install."""
    by_name = {c.name: c for c in found}
    if not requested:
        if not found:
            hints = "\n".join(f"  {name}: {INSTALL_HINTS[name]}" for name in KNOWN)
            raise BrowserUnavailable(f"no browser found. Install one:\n{hints}")
        return list(found)
    selected = []
    for name in dict.fromkeys(requested):
        if name in by_name:
            selected.append(by_name[name])
        elif name in KNOWN:
            raise BrowserUnavailable(
                f"browser {name!r} was not found on this machine. Install it: {INSTALL_HINTS[name]}"
            )
        else:
            known = ", ".join(list(KNOWN) + [n for n in by_name if n not in KNOWN])
            raise BrowserUnavailable(f"unknown browser {name!r}; expected one of: {known}")
    return selected
