"""`[[backend.hooks]]` and `[[backend.error_handlers]]`: the app's code that runs around its routes."""

from __future__ import annotations

from typing import Any, Tuple

from ..locate import KeyPath
from ..model import Answer, ErrorHandler, Hook
from .checker import Checker
from .routes import read_methods


def read_hooks(check: Checker, raw: Any, where: KeyPath) -> Tuple[Hook, ...]:
    """before_request and after_request hooks; the keys that shape an answer belong to before_request only."""
    raw = check.array_of_tables(raw, where, "backend.hooks")
    hooks = []
    for i, item in enumerate(raw):
        at = where + (i,)
        table = check.table(
            item, at, ("when", "headers", "only_origins", "methods", "response", "status"), required=("when",)
        )
        when = check.get(table, "when", at, str, "after_request", ("after_request", "before_request"))
        if when == "after_request":
            for key in ("methods", "response", "status"):
                if key in table:
                    check.fail(at + (key,), f"{key} applies to before_request hooks only")
        hooks.append(
            Hook(
                when=when,
                headers=check.headers(table, "headers", at),
                only_origins=check.strings(table, "only_origins", at) if "only_origins" in table else None,
                methods=read_methods(check, table, at, ("OPTIONS",)),
                response=check.get(table, "response", at, str, "empty", ("empty", "default-options")),
                status=check.get(table, "status", at, int, 200),
            )
        )
    return tuple(hooks)


def read_error_handlers(check: Checker, raw: Any, where: KeyPath) -> Tuple[ErrorHandler, ...]:
    """What the app answers for an HTTP error code (by default with that code as the status)."""
    raw = check.array_of_tables(raw, where, "backend.error_handlers")
    handlers = []
    for i, item in enumerate(raw):
        at = where + (i,)
        table = check.table(item, at, ("code", "status", "body", "headers"), required=("code",))
        code = check.get(table, "code", at, int, 500)
        handlers.append(
            ErrorHandler(
                code=code,
                answer=Answer(
                    status=check.get(table, "status", at, int, code),
                    body=check.get(table, "body", at, str, ""),
                    headers=check.headers(table, "headers", at),
                ),
            )
        )
    return tuple(handlers)
