"""Stock Chromium (`chromium`, `google-chrome`), launched by the lab with a fresh profile and driven over the Chrome
DevTools Protocol (lab/browsers/cdp.py)."""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Sequence

from .base import BrowserInfo, BrowserUnavailable, Routing
from .cdp import CDPBrowser
from .process import BrowserProcess
from .wire import ProtocolError

LISTENING = re.compile(r"DevTools listening on (ws://\S+)")

# A quiet browser: no first-run pages, component updates, sync, crash reports, phishing checks, field trials or
# other background requests (the lab's routing refuses them anyway), no dialogs that wait for a person. Background
# tabs keep full-speed timers, since the lab's cases pause with setTimeout in tabs that are not in front. The sandbox
# is off, as Playwright has it (it cannot start as root or in most containers). Nothing here changes how Chromium
# treats a page's requests: unlike Playwright, the lab leaves Chromium's features on (third-party storage
# partitioning, how CORS redirects restart), except HTTPS-Upgrades, so that a scenario's http:// page origin is
# loaded as written (Firefox's HTTPS-First is off for the same reason).
QUIET_SWITCHES = (
    "--headless",
    "--no-sandbox",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-client-side-phishing-detection",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-field-trial-config",
    "--disable-hang-monitor",
    "--disable-prompt-on-repost",
    "--disable-search-engine-choice-screen",
    "--metrics-recording-only",
    "--no-service-autorun",
    "--password-store=basic",
    "--use-mock-keychain",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--hide-scrollbars",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--disable-features=HttpsUpgrades",
)


def routing_switches(routing: Routing) -> List[str]:
    """Every request through the lab's router, except the lab-assigned names and the origins that are not public
    (reached directly), and the address spaces the origins live in (lab/browsers/spaces.py)."""
    return [
        f"--proxy-server=http://{routing.proxy}",
        "--proxy-bypass-list=" + ";".join(routing.chromium_bypass()),
        *routing.spaces.chromium_switches(routing.proxy),
    ]


def launch_chromium(
    executable: str, driver: str, args: Sequence[str] = (), routing: Optional[Routing] = None
) -> CDPBrowser:
    """Stock Chromium with a fresh profile, the lab's routing, and a CDP connection to its browser endpoint."""
    chromium = BrowserProcess("cors-lab-chromium-", LISTENING)
    switches = [*QUIET_SWITCHES, *(routing_switches(routing) if routing is not None else []), *args]
    try:
        chromium.start(
            [executable, *switches, "--remote-debugging-port=0", f"--user-data-dir={chromium.profile}", "about:blank"]
        )
    except OSError as exc:
        raise BrowserUnavailable(f"Chromium ({executable}) cannot be started: {exc}") from exc
    url = chromium.listening_url(f"Chromium ({executable})", "DevTools")

    def info(version: Dict[str, Any]) -> BrowserInfo:
        product = str(version.get("product", ""))  # "Chrome/156.0.7805.0" (Chromium says Chrome here too)
        return BrowserInfo(
            name="chromium",
            engine="chromium",
            product="Google Chrome" if "chrome" in os.path.basename(executable) else "Chromium",
            version=product.split("/", 1)[-1] or "unknown",
            driver=driver,
            executable=executable,
        )

    try:
        return CDPBrowser(url, info, chromium.stop)
    except ProtocolError as exc:
        chromium.stop()
        raise BrowserUnavailable(f"Chromium ({executable}) refused a DevTools session: {exc}") from exc
