"""`[[backend.blueprints]]`: Flask blueprints with their own prefix, CORS and routes, nested through `parent`."""

from __future__ import annotations

from typing import Any, Tuple

from ..locate import KeyPath
from ..model import Blueprint
from .checker import Checker
from .cors import read_cors_options
from .routes import read_routes


def read_blueprints(check: Checker, raw: Any, where: KeyPath) -> Tuple[Blueprint, ...]:
    """The blueprints, each name once, each parent declared and no blueprint its own ancestor."""
    raw = check.array_of_tables(raw, where, "backend.blueprints")
    result = []
    for i, item in enumerate(raw):
        at = where + (i,)
        table = check.table(item, at, ("name", "url_prefix", "parent", "cors", "routes"), required=("name",))
        result.append(
            Blueprint(
                name=check.get(table, "name", at, str, f"bp{i}"),
                url_prefix=check.get(table, "url_prefix", at, str),
                parent=check.get(table, "parent", at, str),
                cors=read_cors_options(check, table["cors"], at + ("cors",)) if "cors" in table else None,
                routes=read_routes(check, table, at),
                line=check.lines.line_of(at),
            )
        )
    names = [b.name for b in result]
    for i, bp in enumerate(result):
        if names.count(bp.name) > 1 and names.index(bp.name) != i:
            check.fail(where + (i, "name"), f"blueprint name {bp.name!r} is used twice")
        if bp.parent is not None and bp.parent not in names:
            check.fail(where + (i, "parent"), f"parent blueprint {bp.parent!r} is not declared")
        seen, parent = {bp.name}, bp.parent
        while parent is not None and parent in names:
            if parent in seen:
                check.fail(where + (i, "parent"), f"blueprint {bp.name!r} is its own ancestor")
                break
            seen.add(parent)
            parent = result[names.index(parent)].parent
    return tuple(result)
