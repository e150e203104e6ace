"""`[[backend.routes]]` (and a blueprint's routes): what each path answers, and how."""

from __future__ import annotations

from typing import Any, Dict, Tuple

from ..locate import KeyPath
from ..model import Answer, Route
from .checker import Checker
from .cors import read_cors_options

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ROUTE_ACTIONS = ("respond", "raise", "abort", "redirect", "hang", "reset")


def read_routes(check: Checker, table: Dict[str, Any], where: KeyPath) -> Tuple[Route, ...]:
    """The `routes` of the table at `where`; a method and path declared twice is a problem."""
    raw = check.array_of_tables(
        table.get("routes", []), where + ("routes",), ".".join(str(p) for p in where if isinstance(p, str)) + ".routes"
    )
    routes = tuple(_route(check, r, where + ("routes", i)) for i, r in enumerate(raw))
    seen: Dict[Tuple[str, str], int] = {}
    for i, route in enumerate(routes):
        for method in route.methods:
            if (route.path, method) in seen:
                check.fail(where + ("routes", i, "path"), f"{method} {route.path} is declared twice")
            seen[(route.path, method)] = i
    return routes


def read_methods(check: Checker, table: Dict[str, Any], where: KeyPath, default: Tuple[str, ...]) -> Tuple[str, ...]:
    """`methods`, upper-cased, each one Flask can route."""
    methods = tuple(m.upper() for m in check.strings(table, "methods", where, default))
    for method in methods:
        if method not in HTTP_METHODS:
            check.fail(
                where + ("methods",), f"unknown HTTP method {method!r}; expected one of: {', '.join(HTTP_METHODS)}"
            )
    return methods


def _route(check: Checker, raw: Any, where: KeyPath) -> Route:
    keys = (
        "path",
        "methods",
        "status",
        "body",
        "headers",
        "raw",
        "action",
        "abort_status",
        "redirect_to",
        "redirect_status",
        "cross_origin",
        "preflight",
    )
    table = check.table(raw, where, keys, required=("path",))
    path = check.get(table, "path", where, str, "/")
    if not path.startswith("/"):
        check.fail(where + ("path",), f"route path {path!r} must start with '/'")
    action = check.get(table, "action", where, str, "respond", ROUTE_ACTIONS)
    abort_status = check.get(table, "abort_status", where, int)
    redirect_to = check.get(table, "redirect_to", where, str)
    if action == "abort" and abort_status is None:
        check.fail(where + ("action",), 'action = "abort" needs abort_status (for example 404)')
    if action == "redirect" and redirect_to is None:
        check.fail(where + ("action",), 'action = "redirect" needs redirect_to (a path or "{api}/path")')
    if redirect_to is not None and action != "redirect":
        check.fail(where + ("redirect_to",), 'redirect_to is only used with action = "redirect"')
    is_raw = check.get(table, "raw", where, bool, False)
    cross_origin = (
        read_cors_options(check, table["cross_origin"], where + ("cross_origin",)) if "cross_origin" in table else None
    )
    if is_raw and cross_origin is not None:
        check.fail(
            where + ("cross_origin",), "a raw route answers with exactly its headers; it cannot also use cross_origin"
        )
    preflight = _answer(check, table["preflight"], where + ("preflight",)) if "preflight" in table else None
    return Route(
        path=path,
        methods=read_methods(check, table, where, ("GET",)),
        status=check.get(table, "status", where, int, 200),
        body=check.get(table, "body", where, str),
        headers=check.headers(table, "headers", where),
        raw=is_raw,
        action=action,
        abort_status=abort_status,
        redirect_to=redirect_to,
        redirect_status=check.get(table, "redirect_status", where, int, 302),
        cross_origin=cross_origin,
        preflight=preflight,
        line=check.lines.line_of(where),
    )


def _answer(check: Checker, raw: Any, where: KeyPath) -> Answer:
    table = check.table(raw, where, ("status", "body", "headers"))
    return Answer(
        status=check.get(table, "status", where, int, 200),
        body=check.get(table, "body", where, str, ""),
        headers=check.headers(table, "headers", where),
    )
