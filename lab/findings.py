"""Configuration findings: what an app's CORS configuration lets attacker pages do, said once per app and rule.

A cell finding (lab/cell.py) says that one attacker page read one credentialed response in one browser; a security
reviewer acts on the configuration behind it: "reflects any Origin with credentials on 7 routes". These are read
from the result rows alone (dicts from a results file, or ResultRow objects), by the attacker page's name as
`cors-lab scan` writes them:

- a sandboxed frame (`Origin: null`)                     -> cors-lab/null-origin
- `attacker` (another site)                              -> cors-lab/reflects-any-origin
- `NAME_suffix`, `NAME_prefix` (look-alike hosts)        -> cors-lab/look-alike-origin
- `NAME_http` (the http:// twin of an https origin)     -> cors-lab/http-origin
- any other page of an `attacker = true` case           -> cors-lab/attacker-origin

A route that reflects any origin lets look-alike and http:// pages in too: those routes are told once, under
reflects-any-origin, so that each finding names a distinct thing to fix. Accepted reads (`accepted = "why"`) are
not findings. Nothing here says "all clear" by itself: `all_attacker_cells_measured` is what may back one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union
from urllib.parse import urlsplit

from .results import ResultRow, unsupported

Row = Union[Mapping[str, Any], ResultRow]

REFLECTS_ANY = "cors-lab/reflects-any-origin"
NULL_ORIGIN = "cors-lab/null-origin"
LOOK_ALIKE = "cors-lab/look-alike-origin"
HTTP_ORIGIN = "cors-lab/http-origin"
ATTACKER_ORIGIN = "cors-lab/attacker-origin"
MEASURED = ("allowed", "blocked")


@dataclass(frozen=True)
class Rule:
    """What a configuration finding is called, how its message reads (`{routes}`: "3 routes") and how to fix it."""

    id: str
    title: str
    message: str
    fix: str


RULES: Tuple[Rule, ...] = (
    Rule(
        REFLECTS_ANY,
        "Reflects any Origin with credentials",
        "reflects any Origin with Access-Control-Allow-Credentials: true on {routes}",
        "List the exact origins you trust in flask-cors `origins` (or your own hook) instead of the default '*' or a"
        " reflected Origin; with supports_credentials=True every site on the web reads the user's data.",
    ),
    Rule(
        NULL_ORIGIN,
        "Trusts the null origin with credentials",
        "accepts the `null` origin with credentials on {routes}",
        "Remove 'null' from the allowed origins: sandboxed frames, data: URLs and some redirects send Origin: null,"
        " and any site can make one.",
    ),
    Rule(
        LOOK_ALIKE,
        "Trusts look-alike origins with credentials",
        "allows look-alike origins (suffix/prefix) with credentials on {routes}",
        "Compare whole origins, or write regexes anchored at both ends with escaped dots"
        " (^https://app\\.example\\.com$): a substring, prefix or suffix check lets attacker-registered hosts in.",
    ),
    Rule(
        HTTP_ORIGIN,
        "Trusts the http:// twin of an https origin with credentials",
        "accepts http:// for an https origin with credentials on {routes}",
        "Allow only the https:// origin: a page served over plain http can be injected by anyone on the network path.",
    ),
    Rule(
        ATTACKER_ORIGIN,
        "Trusts an attacker's origin with credentials",
        "lets an attacker's page read credentialed responses on {routes}",
        "List only the origins you trust; `cors-lab explain SCENARIO:CASE` shows what the server answered.",
    ),
)
RULE_BY_ID: Dict[str, Rule] = {rule.id: rule for rule in RULES}
SUBSUMED = (LOOK_ALIKE, HTTP_ORIGIN)  # told under REFLECTS_ANY where that rule holds for the same route


@dataclass(frozen=True)
class ConfigFinding:
    """One rule an app's configuration breaks, with every route and browser that showed it."""

    rule_id: str
    title: str
    message: str  # "reflects any Origin with Access-Control-Allow-Credentials: true on 2 routes"
    routes: Tuple[str, ...]  # "METHOD /path", sorted
    browsers: Tuple[str, ...]  # sorted
    scenario: str = ""  # the app's scenario id: findings are per app
    cases: Tuple[str, ...] = ()  # the cases whose cells showed it, sorted (where a reviewer looks)


def _get(row: Row, name: str, default: Any = None) -> Any:
    if isinstance(row, Mapping):
        return row.get(name, default)
    return getattr(row, name, default)


def _request(row: Row) -> Mapping[str, Any]:
    return _get(row, "request") or {}


def is_credentialed_read(row: Row) -> bool:
    """The cell's attacker page read a response to a request sent with credentials "include" (accepted or not)."""
    return (
        bool(_get(row, "attacker"))
        and _get(row, "outcome") == "allowed"
        and _request(row).get("credentials") == "include"
    )


def rule_for(row: Row) -> Optional[str]:
    """The configuration rule an un-accepted credentialed read by an attacker page shows, or None."""
    if not is_credentialed_read(row) or _get(row, "accepted"):
        return None
    request = _request(row)
    page = str(request.get("page") or "")
    if request.get("sandboxed"):
        return NULL_ORIGIN
    if page == "attacker":
        return REFLECTS_ANY
    if page.endswith(("_suffix", "_prefix")):
        return LOOK_ALIKE
    if page.endswith("_http"):
        return HTTP_ORIGIN
    return ATTACKER_ORIGIN


def route_of(row: Row) -> str:
    """ "METHOD /path": the request's method and its URL's path, without the query (it carries the lab's token)."""
    request = _request(row)
    return f"{request.get('method') or 'GET'} {urlsplit(str(request.get('url') or '')).path or '/'}"


def _count(routes: Sequence[str]) -> str:
    return f"{len(routes)} route" + ("" if len(routes) == 1 else "s")


def config_findings(rows: Sequence[Row]) -> List[ConfigFinding]:
    """The configuration findings of every app (scenario) in `rows`, by scenario and then in the order of RULES."""
    seen: Dict[Tuple[str, str], Set[Tuple[str, str, str]]] = {}  # (scenario, rule) -> (route, browser, case)
    for row in rows:
        rule = rule_for(row)
        if rule is not None:
            seen.setdefault((str(_get(row, "scenario", "")), rule), set()).add(
                (route_of(row), str(_get(row, "browser", "")), str(_get(row, "case", "")))
            )
    found = []
    for scenario in sorted({scenario for scenario, _ in seen}):
        reflected = {route for route, _, _ in seen.get((scenario, REFLECTS_ANY), set())}
        for rule in RULES:
            shown = [
                cell
                for cell in seen.get((scenario, rule.id), set())
                if rule.id not in SUBSUMED or cell[0] not in reflected
            ]
            if not shown:
                continue
            routes = sorted({route for route, _, _ in shown})
            found.append(
                ConfigFinding(
                    rule.id,
                    rule.title,
                    rule.message.format(routes=_count(routes)),
                    tuple(routes),
                    tuple(sorted({browser for _, browser, _ in shown})),
                    scenario,
                    tuple(sorted({case for _, _, case in shown})),
                )
            )
    return found


def unmeasured(rows: Sequence[Row]) -> List[str]:
    """Names of the cases whose every cell is error or timeout (in order of first appearance): nothing is known
    about them, so nothing may be written or said as if it were."""
    outcomes: Dict[Tuple[str, str], Set[str]] = {}
    for row in rows:
        outcomes.setdefault((str(_get(row, "scenario", "")), str(_get(row, "case", ""))), set()).add(
            str(_get(row, "outcome"))
        )
    return [case for (_, case), seen in outcomes.items() if not seen & set(MEASURED)]


def all_attacker_cells_measured(rows: Sequence[Row]) -> bool:
    """Whether an all-clear about attacker pages may be said: there were attacker cells, and every one ended allowed
    or blocked. A cell whose page is unknown (an error row written before its case reached a page) may be an
    attacker's, so an error or timeout there counts against it too."""
    attackers = [r for r in rows if _get(r, "attacker")]
    unknown = [r for r in rows if not _get(r, "attacker") and "page" not in _request(r)]
    # A browser that cannot be told what a case needs (`unsupported`) says nothing either way: the case must then be
    # measured in another one, and the scan names the browser that could not.
    told = [r for r in attackers + unknown if not unsupported(r)]
    cases = {(_get(r, "scenario"), _get(r, "case")) for r in attackers}
    measured_cases = {(_get(r, "scenario"), _get(r, "case")) for r in told}
    return bool(attackers) and cases <= measured_cases and all(_get(r, "outcome") in MEASURED for r in told)
