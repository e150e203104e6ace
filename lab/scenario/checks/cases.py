"""`[[cases]]`: the request a page makes and what each browser is expected to do with it."""

from __future__ import annotations

import re
from typing import Any, Dict, Optional, Tuple

from ...standard import request_header_problem
from ..locate import KeyPath
from ..model import ENGINES, EXPECTABLE, UNMEASURED, Case, Origin, split_expectation
from ..spaces import PERMISSIONS, secure_context
from ..versions import problem as version_problem
from .checker import Checker, _name

CASE_EXPECTATIONS = EXPECTABLE + (UNMEASURED,)
UNMEASURED_HINT = f', or "{UNMEASURED}" (not measured when the file was written: it never passes)'


def read_cases(check: Checker, raw: Any, origins: Dict[str, Origin], local_network: str = "prompt") -> Tuple[Case, ...]:
    """At least one case, each named once in its file (results and claims refer to cases by name); `local_network`
    is the file's default permission for its cases."""
    if not isinstance(raw, list) or not raw:
        check.fail(("cases",), "a scenario needs at least one [[cases]] table")
        raw = []
    cases = tuple(_case(check, c, ("cases", i), origins, local_network) for i, c in enumerate(raw))
    names = [c.name for c in cases]
    for i, name in enumerate(names):
        if names.index(name) != i:
            check.fail(("cases", i, "name"), f"case name {name!r} is used twice in this file")
    return cases


def _case(check: Checker, raw: Any, where: KeyPath, origins: Dict[str, Origin], local_network: str) -> Case:
    keys = (
        "name",
        "description",
        "page",
        "target",
        "path",
        "method",
        "headers",
        "body",
        "credentials",
        "mode",
        "redirect",
        "read_headers",
        "expect",
        "expect_per_browser",
        "expect_by_version",
        "repeat",
        "pause_ms",
        "sandboxed",
        "expect_cookies_sent",
        "expect_cookies_sent_per_browser",
        "attacker",
        "accepted",
        "local_network",
    )
    table = check.table(raw, where, keys, required=("name", "path", "expect"))
    for key in ("page", "target"):
        name = table.get(key, "app" if key == "page" else "api")
        if isinstance(name, str) and name not in origins:
            check.fail(
                where + (key,), f"{key} {name!r} is not a declared origin (declared: {', '.join(sorted(origins))})"
            )
    per_browser = check.get(table, "expect_per_browser", where, dict, {})
    for engine, outcome in per_browser.items():
        if engine not in ENGINES:
            check.fail(
                where + ("expect_per_browser", engine),
                f"unknown browser {engine!r} in expect_per_browser; expected one of: {', '.join(ENGINES)}",
            )
        elif outcome not in CASE_EXPECTATIONS:
            check.fail(
                where + ("expect_per_browser", engine),
                f"expectation {outcome!r} must be one of: {', '.join(EXPECTABLE)}{UNMEASURED_HINT}",
            )
    by_version = check.get(table, "expect_by_version", where, dict, {})
    for condition, outcome in by_version.items():
        wrong = version_problem(condition)
        if wrong:
            check.fail(where + ("expect_by_version", condition), f"expect_by_version: {wrong}")
        elif not _version_expectation(outcome):
            check.fail(
                where + ("expect_by_version", condition),
                f"expectation {outcome!r} must be one of: "
                f'{", ".join(EXPECTABLE)}, or "error: TEXT" (the app fails with TEXT in its error)',
            )
    cookies_per_browser = check.get(table, "expect_cookies_sent_per_browser", where, dict, {})
    for engine, sent in cookies_per_browser.items():
        if engine not in ENGINES or not isinstance(sent, bool):
            check.fail(
                where + ("expect_cookies_sent_per_browser", engine),
                f"expect_cookies_sent_per_browser maps a browser ({', '.join(ENGINES)}) to true or false",
            )
    # Kept as written: fetch() upper-cases only DELETE, GET, HEAD, OPTIONS, POST and PUT, so "patch" stays "patch".
    method = check.get(table, "method", where, str, "GET")
    if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", method):
        check.fail(where + ("method",), f"method {method!r} is not an HTTP token")
    body = check.get(table, "body", where, str)
    if body is not None and method.upper() in ("GET", "HEAD"):
        check.fail(where + ("body",), f"a {method} request cannot have a body (fetch() throws before sending anything)")
    headers = check.get(table, "headers", where, dict, {})
    for name, value in headers.items():
        if not isinstance(value, str):
            check.fail(where + ("headers", name), f"request header {name!r} must be a string")
            continue
        unsendable = request_header_problem(name, value)
        if unsendable:
            check.fail(where + ("headers", name), unsendable)
    expect = check.get(table, "expect", where, str, "allowed")
    if expect not in CASE_EXPECTATIONS:
        check.fail(
            where + ("expect",),
            f"{_name(where + ('expect',))} is {expect!r}; expected one of: {', '.join(EXPECTABLE)}{UNMEASURED_HINT}",
        )
        expect = "allowed"
    attacker, accepted = _attacker(check, table, where)
    local_network = check.get(table, "local_network", where, str, local_network, PERMISSIONS)
    page = origins.get(table.get("page", "app"))
    if local_network != "prompt" and page is not None and not secure_context(page.scheme, page.host):
        check.fail(
            where + ("local_network",) if "local_network" in table else where,
            f'local_network = "{local_network}" needs a secure page: browsers give the permission only to https'
            f" and loopback pages, and {page.as_written or page.host} is neither (its local-network requests are"
            " refused whatever the permission); leave the case at the default, prompt",
        )
    path = check.get(table, "path", where, str, "/")
    if not path.startswith("/"):
        check.fail(where + ("path",), f"case path {path!r} must start with '/'")
    repeat = check.get(table, "repeat", where, int, 1)
    pause_ms = check.get(table, "pause_ms", where, int, 0)
    if not 1 <= repeat <= 10:
        check.fail(where + ("repeat",), f"repeat is {repeat}; it must be between 1 and 10")
    if not 0 <= pause_ms <= 60000 or (pause_ms and repeat == 1):
        check.fail(where + ("pause_ms",), "pause_ms must be between 0 and 60000, and needs repeat > 1")
    return Case(
        name=check.get(table, "name", where, str, "?"),
        description=check.get(table, "description", where, str, ""),
        page=check.get(table, "page", where, str, "app"),
        target=check.get(table, "target", where, str, "api"),
        path=path,
        method=method,
        headers=headers,
        body=body,
        credentials=check.get(table, "credentials", where, str, "same-origin", ("omit", "same-origin", "include")),
        mode=check.get(table, "mode", where, str, "cors", ("cors", "no-cors", "same-origin")),
        redirect=check.get(table, "redirect", where, str, "follow", ("follow", "error", "manual")),
        read_headers=check.strings(table, "read_headers", where),
        repeat=repeat,
        pause_ms=pause_ms,
        sandboxed=check.get(table, "sandboxed", where, bool, False),
        expect_cookies_sent=check.get(table, "expect_cookies_sent", where, bool),
        expect_cookies_sent_per_browser={
            k: v for k, v in cookies_per_browser.items() if k in ENGINES and isinstance(v, bool)
        },
        expect=expect,
        expect_per_browser={k: v for k, v in per_browser.items() if k in ENGINES and v in CASE_EXPECTATIONS},
        expect_by_version={k: v for k, v in by_version.items() if _version_expectation(v) and not version_problem(k)},
        attacker=attacker,
        accepted=accepted,
        local_network=local_network,
        line=check.lines.line_of(where),
    )


def _attacker(check: Checker, table: Dict[str, Any], where: KeyPath) -> Tuple[bool, Optional[str]]:
    """`attacker = true` and `accepted = "why"`: an accepted credentialed read only makes sense for an attacker's
    page, so `accepted` alone is refused rather than silently meaning nothing."""
    attacker = check.get(table, "attacker", where, bool, False)
    accepted = check.get(table, "accepted", where, str)
    if accepted is not None and not accepted.strip():
        check.fail(
            where + ("accepted",),
            f"{_name(where + ('accepted',))} is empty: say why a credentialed read by"
            " this attacker page is fine, or remove it",
        )
        accepted = None
    elif accepted is not None and not attacker:
        check.fail(
            where + ("accepted",),
            f"{_name(where + ('accepted',))} needs `attacker = true` in the same case:"
            " only a credentialed read by an attacker's page can be accepted",
        )
        accepted = None
    return attacker, accepted


def _version_expectation(value: Any) -> bool:
    """An outcome, or `error: TEXT` (the app fails to start under those versions with TEXT in its error)."""
    if not isinstance(value, str):
        return False
    outcome, text = split_expectation(value)
    return outcome in EXPECTABLE or bool(text)
