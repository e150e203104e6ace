"""Address spaces (Local Network Access): where an origin lives as the browser should see it, and the permission.

A browser lets a page reach a more private address space only with the user's permission: a `public` page may not
read a `local` (private-range) or `loopback` server, a `local` page may not read a `loopback` one. The lab serves
every origin from loopback, so each origin carries the space it has in production (declared, or the default below)
and the browser is told it (lab/browsers/spaces.py).
"""

from __future__ import annotations

import ipaddress
from typing import Optional

SPACES = ("public", "local", "loopback")
"""From least to most private."""

PERMISSIONS = ("prompt", "granted", "denied")
"""The local-network permission a case's page has: `prompt` is a browser's default (nobody answers it here)."""


def default_space(host: str, assigned: bool) -> str:
    """The space a real network gives this host: lab-assigned names, `localhost`, `*.localhost` and 127/8 are
    `loopback`; private ranges (10/8, 172.16/12, 192.168/16, link-local) and `.local` names `local`; the rest `public`."""
    if assigned or host == "localhost" or host.endswith(".localhost"):
        return "loopback"
    address = _address(host)
    if address is not None:
        if address.is_loopback:
            return "loopback"
        return "local" if (address.is_private or address.is_link_local) else "public"
    return "local" if host.endswith(".local") else "public"


def _address(host: str) -> Optional[ipaddress.IPv4Address]:
    try:
        return ipaddress.IPv4Address(host)
    except ValueError:
        return None


def more_private(target: str, page: str) -> bool:
    """Whether a request from a page in space `page` to a server in space `target` is a local-network request."""
    return SPACES.index(target) > SPACES.index(page)


def secure_context(scheme: str, host: str) -> bool:
    """Whether a page at this origin is a secure context: https, or a loopback name browsers trust over http."""
    return scheme == "https" or default_space(host, False) == "loopback"
