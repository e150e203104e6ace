"""A case out in a page: what the in-page probe (probe.js) is given for it, its token, and when it is due.

Every case fetches URLs with a token no other case has: no cache entry is shared between cases, and the servers
tell the cases' requests apart by it. The token's first part (before the dot) names the attached scenario.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

from .backend import TOKEN_PARAM
from .backend.template import fill
from .browsers.base import page_key
from .browsers.spaces import permission_for
from .mounting import Mounted
from .scenario.model import Case, Scenario


def probe_spec(case: Case, urls: Dict[str, str], token: str, timeout_s: float, prompts: bool = False) -> Dict[str, Any]:
    """What the page's probe gets for one case (window.corsLabStart): the URL carries the case's token, and the
    token's first part (before the dot) names the attached scenario the servers dispatch to. `prompts`: the case
    is a local-network request whose permission nobody has answered (the browser may show a prompt)."""
    separator = "&" if "?" in case.path else "?"
    return {
        "prompts": prompts,
        "token": token,
        "url": f"{urls[case.target]}{case.path}{separator}{TOKEN_PARAM}={token}",
        "method": case.method,
        "headers": fill(case.headers, urls),
        "body": case.body,
        "credentials": case.credentials,
        "mode": case.mode,
        "redirect": case.redirect,
        "read_headers": list(case.read_headers),
        "sandboxed": case.sandboxed,
        "timeout_ms": int(timeout_s * 1000),
        "repeat": case.repeat,
        "pause_ms": case.pause_ms,
    }


def case_page(scenario: Scenario, case: Case, urls: Dict[str, str]) -> Tuple[str, bool]:
    """The key of the page a case runs in (its origin, and the local-network permission it needs), and whether the
    case may make the browser prompt for that permission (nobody answers it here)."""
    page = page_key(urls[case.page], permission_for(scenario, case))
    return page, scenario.local_network_request(case) and case.local_network == "prompt"


@dataclass
class Flight:
    """A case started in a page and not yet collected."""

    mounted: Mounted
    case: Case
    spec: Dict[str, Any]
    page_url: str  # the page's key: its origin, and the local-network permission it needs (browsers.base.page_key)
    ready_at: float  # perf_counter time by which its pauses are over

    @property
    def token(self) -> str:
        return self.spec["token"]


class Tokens:
    """Numbers the cases one session starts, so that each one's token is its own."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._serial = 0

    def flight(self, mounted: Mounted, case: Case, ready_at: float = 0.0) -> Flight:
        """The case as it is started in its page, with a new token."""
        self._serial += 1
        token = f"{mounted.key}.{self._serial}-{secrets.token_hex(3)}"
        page, prompts = case_page(mounted.scenario, case, mounted.urls)
        spec = probe_spec(case, mounted.urls, token, self.timeout_s, prompts)
        return Flight(mounted, case, spec, page, ready_at)

    def paused(self, mounted: Mounted, cases: Sequence[Case]) -> List[Flight]:
        """Cases that pause between repeats, each due when its pauses are over (counted from now)."""
        now = time.perf_counter()
        return [self.flight(mounted, case, now + case.pause_ms * (case.repeat - 1) / 1000) for case in cases]


def by_page(flights: Sequence[Flight]) -> Dict[str, List[Flight]]:
    """The flights grouped by the page they run in, pages in the order they first come."""
    grouped: Dict[str, List[Flight]] = {}
    for flight in flights:
        grouped.setdefault(flight.page_url, []).append(flight)
    return grouped
