"""Where each origin must be for a browser to see it in its declared address space, decided before the launch.

The session calls `place` once, before its browser starts: the servers a browser must know of are started, and
the `Spaces` it returns travel with the launch (lab/browsers/spaces.py turns them into switches and preferences).
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import Dict, List, Sequence, Set, Tuple

from .browsers.spaces import Spaces
from .scenario.model import Origin, Scenario
from .scenario.spaces import SPACES
from .servers import OriginPool, origin_keys

EPHEMERAL_START = 32768
"""Firefox remaps a written port for every connection it makes (`network.socket.forcePort`): a written port in the
range the lab's own servers get theirs from could take one of them over, so such an origin is not placed."""


def place(pool: OriginPool, scenarios: Sequence[Scenario], engine: str) -> Spaces:
    """Start the servers a browser must know of at launch and say what to tell it: lab-assigned origins declared
    outside loopback (their ports); for Chromium the origins served as written that are not public (reached
    directly, by resolver rules); for Firefox the origins served as written in local-network cases (reached
    directly through the pool's gateways)."""
    ports: Dict[int, str] = {}
    direct: Dict[Tuple[str, int], int] = {}
    active = any(s.local_network_request(c) for s in scenarios for c in s.cases)
    for scenario in scenarios:
        keys = origin_keys(scenario.origins)
        for name, origin in scenario.origins.items():
            assigned_outside_loopback = origin.port is None and origin.space != "loopback"
            plain_localhost = origin.port is None and origin.host == "localhost"  # reached through the router
            written_not_public = origin.port is not None and origin.space != "public"
            if not (assigned_outside_loopback or plain_localhost or written_not_public):
                continue
            port = pool.server_port(origin, keys[name])
            if origin.space != "loopback":
                ports[port] = origin.space
            if origin.port is not None:
                direct[(origin.host, origin.port)] = port
            elif plain_localhost:  # Chromium: direct, like any origin it must see the space of
                direct[("localhost", port)] = port
    spaces = Spaces(tuple(sorted(ports.items())), tuple((h, p, local) for (h, p), local in direct.items()), active)
    if engine != "firefox" or not active:
        return spaces
    gateways, names = _firefox_gateways(pool, scenarios)
    return replace(spaces, gateways=gateways, direct_names=names)


def _firefox_gateways(
    pool: OriginPool, scenarios: Sequence[Scenario]
) -> Tuple[Tuple[Tuple[int, int, str], ...], Tuple[str, ...]]:
    """Gateways (written port, gateway port, space) and the names Firefox reaches through them: every name of an
    origin served as written in a local-network case, with all its ports in the run. A written port on which two
    names live in different spaces cannot be told apart by Firefox (its override keys an address and port): the
    names of the more private spaces there stay behind the router, and their cells say so."""
    written: Dict[str, List[Tuple[Origin, Scenario]]] = {}
    for scenario in scenarios:
        for origin in scenario.origins.values():
            if origin.as_written and not _ip_literal(origin.host):
                written.setdefault(origin.host, []).append((origin, scenario))
    wanted: Set[str] = {
        o.host
        for s in scenarios
        for c in s.cases
        if s.local_network_request(c)
        for o in (s.origins[c.page], s.origins[c.target])
        if o.host in written
    }
    refused: Set[str] = set()
    while True:
        # Firefox's proxy bypass matches a name's ends too (`app.example.com` also `evil-app.example.com`): every
        # written name it would bypass for is placed with it, or none is.
        wanted |= {h for h in written if h not in refused and any(h.endswith(w) for w in wanted)}
        spaces_by_port: Dict[int, Set[str]] = {}
        for host in wanted:
            for origin, _ in written[host]:
                spaces_by_port.setdefault(origin.port or 0, set()).add(origin.space)
        # On a port where names live in several spaces the least private one keeps it: pages are less private than
        # what they reach, and a page Firefox cannot place leaves every case it makes unplaced.
        kept = {port: min(found, key=SPACES.index) for port, found in spaces_by_port.items()}
        dropped = {
            h for h in wanted for o, _ in written[h] if (o.port or 0) >= EPHEMERAL_START or o.space != kept[o.port or 0]
        }
        dropped |= {w for w in wanted for h in dropped if h.endswith(w)}
        if not dropped:
            break
        wanted -= dropped
        refused |= dropped
    gateways: Dict[int, Tuple[int, int, str]] = {}
    for host in sorted(wanted):
        for origin, scenario in written[host]:
            assert origin.port is not None
            gateway = pool.gateway(origin.port)
            keys = origin_keys(scenario.origins)
            gateway.route(host, pool.server_port(origin, keys[origin.name]))
            gateways[origin.port] = (origin.port, gateway.port, origin.space)
    return tuple(gateways.values()), tuple(sorted(wanted))


def _ip_literal(host: str) -> bool:
    """An address written as such: Firefox connects to it as written (no name to resolve to loopback)."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False
