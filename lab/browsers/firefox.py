"""Stock Firefox, launched by the lab with a fresh profile and driven over WebDriver BiDi (lab/browsers/bidi.py)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from .base import BrowserInfo, BrowserUnavailable, Routing
from .bidi import BiDiBrowser
from .process import BrowserProcess
from .wire import ProtocolError

LISTENING = re.compile(r"WebDriver BiDi listening on (ws://\S+)")
# What a first launch leaves in a profile that makes the next one cheaper (3.3 -> 1.7 s of CPU here): Firefox's cache
# of its own compiled code and the registry of its built-in add-ons. No site data: no cookies, storage, history,
# caches, permissions or preferences; each launch still starts from a fresh profile.
STARTUP_FILES = ("startupCache", "compatibility.ini", "addonStartup.json.lz4", "extensions.json")


def startup_cache(executable: str) -> Optional[Path]:
    """Where this Firefox's startup files are kept between runs (per user, per build of Firefox)."""
    try:
        real = os.path.realpath(executable)
        stamps = [
            f"{path}:{os.stat(path).st_mtime_ns}"
            for path in (real, os.path.join(os.path.dirname(real), "omni.ja"))
            if os.path.exists(path)
        ]
    except OSError:
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "cors-lab" / "firefox-startup" / hashlib.sha256("|".join(stamps).encode()).hexdigest()[:16]


# A quiet profile: no first-run pages, updates, telemetry, safe-browsing lists or connectivity checks (the lab's
# routing refuses them anyway: they would only be noise in its log), no dialogs that wait for a person. Background
# tabs keep full-speed timers, since the lab's cases pause with setTimeout in tabs that are not in front. Nothing
# here changes how Firefox treats a page's requests: cookies, tracking protection and CORS keep their defaults.
QUIET_PROFILE: Dict[str, Any] = {
    "app.normandy.enabled": False,
    "app.update.disabledForTesting": True,
    "browser.newtabpage.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.search.update": False,
    "browser.sessionstore.resume_from_crash": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage": "about:blank",
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "browser.translations.automaticallyPopup": False,
    "browser.urlbar.suggest.searches": False,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "dom.max_script_run_time": 0,
    "dom.min_background_timeout_value": 0,
    "dom.min_background_timeout_value_without_budget_throttling": 0,
    "dom.timeout.enable_budget_timer_throttling": False,
    "dom.security.https_first": False,  # a scenario's http:// page origin is loaded as written
    "extensions.getAddons.cache.enabled": False,
    "extensions.update.enabled": False,
    "general.useragent.updates.enabled": False,
    "hangmonitor.timeout": 0,
    "layout.testing.top-level-always-active": True,
    "media.gmp-manager.updateEnabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "remote.enabled": True,
    "security.certerrors.mitm.priming.enabled": False,
    "startup.homepage_welcome_url": "about:blank",
    "toolkit.startup.max_resumed_crashes": -1,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
}


def routing_prefs(routing: Routing) -> Dict[str, Any]:
    """Every request through the lab's router, except the lab-assigned names it reaches directly. No failover and
    no bypass: Firefox's own services must not retry around a refusal."""
    host, port = routing.proxy.rsplit(":", 1)
    return {
        "network.proxy.type": 1,
        "network.proxy.http": host,
        "network.proxy.http_port": int(port),
        "network.proxy.ssl": host,
        "network.proxy.ssl_port": int(port),
        "network.proxy.no_proxies_on": ", ".join((*routing.bypass, *routing.spaces.direct_names)),
        "network.proxy.allow_hijacking_localhost": True,
        "network.proxy.failover_direct": False,
        "network.proxy.allow_bypass": False,
    }


class _FirefoxProcess(BrowserProcess):
    """Firefox with a fresh profile: its prefs, and the startup files kept from an earlier launch."""

    def __init__(self, executable: str, args: Sequence[str], prefs: Dict[str, Any]) -> None:
        super().__init__("cors-lab-firefox-", LISTENING)
        self.startup = startup_cache(executable)
        if self.startup is not None and self.startup.is_dir():
            try:
                shutil.copytree(self.startup, self.profile, dirs_exist_ok=True)
            except OSError:
                pass  # an unreadable cache only makes this launch slower: Firefox rebuilds what is missing
        with open(os.path.join(self.profile, "user.js"), "w", encoding="utf-8") as user_js:
            user_js.writelines(
                f"user_pref({json.dumps(name)}, {json.dumps(value)});\n" for name, value in prefs.items()
            )
        self.start(
            [executable, "--headless", "--remote-debugging-port=0", "--profile", self.profile, *args],
            {**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1"},
        )

    def url_from(self, found: re.Match[str]) -> str:
        return found.group(1) + "/session"

    def wants_clean_exit(self) -> bool:
        """Only to leave Firefox's startup files for the next launches: otherwise ending its processes at once
        saves half a second of CPU."""
        return self.startup is not None and not self.startup.exists()

    def exited_cleanly(self) -> None:
        self._keep_startup_files()

    def _keep_startup_files(self) -> None:
        """Keep what a clean exit left for the next launch (written whole, then renamed: readers never see half)."""
        if self.startup is None or self.startup.exists():
            return
        staging: Optional[Path] = None
        try:
            self.startup.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.startup.parent))
            for name in STARTUP_FILES:
                source = Path(self.profile, name)
                if source.is_dir():
                    shutil.copytree(source, staging / name)
                elif source.exists():
                    shutil.copy2(source, staging / name)
            os.rename(staging, self.startup)
        except OSError:  # another run kept them first, or the cache folder cannot be written: launches stay slower
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)


def launch_firefox(
    executable: str, driver: str, args: Sequence[str] = (), routing: Optional[Routing] = None
) -> BiDiBrowser:
    """Stock Firefox (`firefox`, `firefox-esr`) with a fresh quiet profile, the lab's routing, and a BiDi session."""
    prefs = {**QUIET_PROFILE, **(routing_prefs(routing) if routing is not None else {})}
    if routing is not None:
        prefs.update(routing.spaces.firefox_prefs())
    try:
        firefox = _FirefoxProcess(executable, args, prefs)
    except OSError as exc:
        raise BrowserUnavailable(f"Firefox ({executable}) cannot be started: {exc}") from exc
    url = firefox.listening_url(f"Firefox ({executable})", "WebDriver BiDi")

    def info(capabilities: Dict[str, Any]) -> BrowserInfo:
        product = "Firefox ESR" if "esr" in os.path.basename(executable) else "Firefox"
        return BrowserInfo(
            name="firefox",
            engine="firefox",
            product=product,
            version=str(capabilities.get("browserVersion", "unknown")),
            driver=driver,
            executable=executable,
        )

    try:
        return BiDiBrowser(url, info, firefox.stop, clean_exit=firefox.wants_clean_exit)
    except ProtocolError as exc:
        firefox.stop()
        raise BrowserUnavailable(f"Firefox ({executable}) refused a WebDriver BiDi session: {exc}") from exc
