"""Find the browsers on this machine: Playwright's own builds first, then system browsers."""

from __future__ import annotations

import os
import shutil
from typing import Dict, List, Optional, Sequence

from .base import Browser, BrowserUnavailable, Candidate

KNOWN = ("chromium", "firefox", "webkit")
SYSTEM_BINARIES: Dict[str, Sequence[str]] = {
    "chromium": ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"),
    "firefox": ("firefox-esr", "firefox"),
}
INSTALL_HINTS: Dict[str, str] = {
    "chromium": "python -m playwright install chromium   (no download access? apt-get install chromium)",
    "firefox": "python -m playwright install firefox   (no download access? apt-get install firefox-esr)",
    "webkit": "WebKit support arrives with the WebKit driver; it cannot be run yet",
}


def _playwright_builds() -> Dict[str, str]:
    """Executables of Playwright's own browser builds that are installed (not downloaded here)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dependency
        return {}
    found: Dict[str, str] = {}
    with sync_playwright() as playwright:
        for engine in ("chromium", "firefox"):
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


def _launcher(engine: str, executable: Optional[str], driver: str):  # type: ignore[no-untyped-def]
    def launch() -> Browser:
        from .playwright import PlaywrightBrowser

        return PlaywrightBrowser(engine, executable, driver)
    return launch


def find_browsers() -> List[Candidate]:
    """Every browser the lab can drive here, one per engine, best option first."""
    bundled = _playwright_builds()
    candidates: List[Candidate] = []
    for engine in ("chromium", "firefox"):
        if engine in bundled:
            driver = "playwright (Playwright's build)"
            candidates.append(Candidate(engine, engine, bundled[engine], driver, _launcher(engine, None, driver)))
            continue
        system = _system_binary(engine)
        if system:
            driver = "playwright (system binary)" if engine == "chromium" else "playwright over WebDriver BiDi (system binary)"
            candidates.append(Candidate(engine, engine, system, driver, _launcher(engine, system, driver), system_binary=True))
    return candidates


def select_browsers(requested: Sequence[str], found: Sequence[Candidate]) -> List[Candidate]:
    """The requested browsers (default: all found); a missing one is an error that says what to install."""
    by_name = {c.name: c for c in found}
    if not requested:
        if not found:
            hints = "\n".join(f"  {name}: {INSTALL_HINTS[name]}" for name in ("chromium", "firefox"))
            raise BrowserUnavailable(f"no browser found. Install one:\n{hints}")
        return list(found)
    selected = []
    for name in dict.fromkeys(requested):
        if name not in KNOWN:
            raise BrowserUnavailable(f"unknown browser {name!r}; expected one of: {', '.join(KNOWN)}")
        if name not in by_name:
            raise BrowserUnavailable(f"browser {name!r} was not found on this machine. Install it: {INSTALL_HINTS[name]}")
        selected.append(by_name[name])
    return selected
