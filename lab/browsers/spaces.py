"""Telling each browser the address space of each origin (Local Network Access), and what it cannot be told.

Every origin is served from loopback, so a browser left alone sees every page and server as `loopback` and never
applies Local Network Access. What was measured (docs/local-network-access.md) decides how the declared space
wins:

- Chromium keys `--ip-address-space-overrides` by the address:port it connects to, and never checks a request it
  sends through a proxy (the page of such a request takes the proxy's space). So the lab's router is declared
  `public` (every origin it carries is a public name), and every origin that is not public is reached directly: a
  host resolver rule maps its name and port to its server, the proxy is bypassed for it, and a `local` one's server
  port is declared `local`. A lab-assigned `*.localhost` origin is direct already: its port is declared.
- Firefox ESR 153 has `network.lna.address_space.{public,private,local}.override` (its `private` is the spec's
  `local`, its `local` is loopback), for direct connections only: an origin the lab reaches through its router
  cannot be placed, so such cells are not run (`unsupported_reason`).
- WebKitGTK 2.50 has no override (its LocalNetworkAccess feature is off by default): not run either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

if TYPE_CHECKING:
    from ..scenario.model import Case, Scenario
    from .base import Candidate

PROMPT_TIMEOUT_MS = 200
"""Firefox waits `network.lna.prompt.timeout` (300 s by default) for a person to answer the permission prompt; here
nobody answers, so it gives up after this (measured: each prompting request fails after 220-300 ms). Prompting cases
run one at a time in Firefox (calls.FunctionPage.prompts_together)."""
_FIREFOX_PREF = {"public": "public", "local": "private"}  # Firefox's "local" is loopback, the default here


@dataclass(frozen=True)
class Spaces:
    """Where a browser must be told a space: `ports` (a lab server's port and its space, for origins reached
    directly), `direct` (an origin served as written that is not public: its name, port and lab server's port),
    and whether any case of the run is a local-network request at all (`active`)."""

    ports: Tuple[Tuple[int, str], ...] = ()
    direct: Tuple[Tuple[str, int, int], ...] = ()
    active: bool = False
    gateways: Tuple[Tuple[int, int, str], ...] = ()  # Firefox: written port, the lab's gateway port, its space
    direct_names: Tuple[str, ...] = ()  # Firefox: names it resolves to 127.0.0.1 itself and reaches by gateway

    def chromium_bypass(self) -> List[str]:
        """Origins served as written that Chromium must reach directly, as proxy bypass rules (host:port)."""
        return [_authority(host, port) for host, port, _ in self.direct]

    def chromium_switches(self, proxy: str) -> List[str]:
        """The host resolver rules for the origins reached directly (always: they bypass the proxy), and the
        address-space overrides with the lab's router declared public (when a case needs them)."""
        switches = []
        if self.direct:
            rules = ", ".join(f"MAP {_authority(host, port)} 127.0.0.1:{local}" for host, port, local in self.direct)
            switches.append(f"--host-resolver-rules={rules}")
        if self.active:
            overrides = [f"{proxy}=public", *(f"127.0.0.1:{port}={space}" for port, space in self.ports)]
            switches.append("--ip-address-space-overrides=" + ",".join(overrides))
        return switches

    def firefox_prefs(self) -> Dict[str, Any]:
        """Firefox's overrides for lab servers reached directly, and a prompt nobody answers given up soon."""
        if not self.active:
            return {}
        prefs: Dict[str, Any] = {"network.lna.prompt.timeout": PROMPT_TIMEOUT_MS}
        if self.direct_names:
            # These names resolve to loopback inside Firefox (localDomains), every other lookup is off, and each
            # written port is the lab's gateway. (`network.dns.forceResolve` would do as a belt too, but it turns off
            # Firefox's preflight cache: measured, every cached preflight of fetch/preflight-cache was sent again.)
            prefs["network.dns.localDomains"] = ",".join(self.direct_names)
            prefs["network.dns.disabled"] = True
            prefs["network.socket.forcePort"] = ";".join(f"{written}={port}" for written, port, _ in self.gateways)
        placed = [*self.ports, *((port, space) for _, port, space in self.gateways)]
        for space in ("public", "local"):
            listed = [f"127.0.0.1:{port}" for port, declared in placed if declared == space]
            if listed:
                prefs[f"network.lna.address_space.{_FIREFOX_PREF[space]}.override"] = ",".join(listed)
        return prefs


def _authority(host: str, port: int) -> str:
    return f"{host}:{port}"


def unsupported_reason(
    candidate: Candidate, scenario: Scenario, case: Case, spaces: Spaces = Spaces()
) -> Optional[str]:
    """Why this browser cannot measure the case as its spaces say (None: it can, or no space matters here)."""
    if not scenario.local_network_request(case):
        return None
    engine, routable, playwright = candidate.engine, candidate.routable, "playwright" in candidate.driver
    page, target = scenario.origins[case.page], scenario.origins[case.target]
    head = f"address spaces not supported by this engine: a {page.space} page reaching a {target.space} server"
    if not routable:
        return f"{head} needs the lab's routing, which a browser it did not launch does not use"
    if engine == "webkit":
        return f"{head} cannot be set up in WebKit: WebKitGTK has no address-space override (and its Local Network Access is off)"
    if engine == "firefox":
        routed = [o for o in (page, target) if _through_router(o.as_written, o.host, spaces)]
        if routed:
            return (
                f"{head}: Firefox applies address spaces only to direct connections, and the lab reaches"
                f" {routed[0].as_written or routed[0].scheme + '://localhost'} through its router (a proxy), which"
                " Firefox never checks (an address written as such, plain localhost, or a port on which another"
                " origin of the run lives in another space)"
            )
        if playwright and not candidate.system_binary:
            return f"{head}: how Playwright's own Firefox build applies address spaces has not been measured"
        if playwright and case.local_network == "denied":
            return f"{head}: Playwright cannot deny a permission in Firefox (it can only grant or clear one)"
    return None


def _through_router(as_written: Optional[str], host: str, spaces: Spaces) -> bool:
    """Whether Firefox reaches this origin through the lab's router: served as written and not placed by a gateway,
    or a lab-assigned plain `localhost` (Firefox sends loopback names through the router, so as not to reach a port
    the lab does not serve)."""
    if as_written:
        return host not in spaces.direct_names
    return host == "localhost"


def permission_for(scenario: Scenario, case: Case) -> str:
    """The permission state the case's page must be set to ("" for the browser's default: prompt)."""
    if case.local_network == "prompt" or not scenario.local_network_request(case):
        return ""
    return case.local_network
