"""`[backend] app = "package.module:create_app()"`: which object of the user's own project is the app under test.

Parsed with `ast` so that a factory call may carry literal arguments
(`create_app("testing", debug=False)`) and nothing else: the scenario file names
an app, it does not run code of its own.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Dict, Tuple


@dataclass(frozen=True)
class AppTarget:
    """`module:attribute` or `module:factory(literal arguments)`."""

    text: str
    module: str
    attribute: str
    call: bool = False
    args: Tuple[Any, ...] = ()
    kwargs: Dict[str, Any] = field(default_factory=dict)


class AppTargetError(ValueError):
    """The `app` value is not `module:attribute` or `module:factory(literals)`."""


def parse_app_target(text: str) -> AppTarget:
    module, separator, rest = text.partition(":")
    if not separator or not module or not rest:
        raise AppTargetError(f'app = {text!r} must be "package.module:app" or "package.module:create_app()"')
    if not all(part.isidentifier() for part in module.split(".")):
        raise AppTargetError(f'app = {text!r}: {module!r} is not a module path such as "myproject.app"')
    try:
        node = ast.parse(rest.strip(), mode="eval").body
    except SyntaxError as exc:
        raise AppTargetError(f"app = {text!r}: {rest!r} is not an attribute or a call ({exc.msg})") from exc
    if isinstance(node, ast.Name):
        return AppTarget(text, module, node.id)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        try:
            args = tuple(ast.literal_eval(arg) for arg in node.args)
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg is not None}
        except ValueError as exc:
            raise AppTargetError(
                f"app = {text!r}: the factory's arguments must be literals (strings, numbers, "
                "lists, dicts, True/False/None)"
            ) from exc
        if any(kw.arg is None for kw in node.keywords):
            raise AppTargetError(f"app = {text!r}: **kwargs is not allowed; name each argument")
        return AppTarget(text, module, node.func.id, True, args, kwargs)
    raise AppTargetError(f"app = {text!r}: after ':' write an attribute (app) or a factory call (create_app())")
