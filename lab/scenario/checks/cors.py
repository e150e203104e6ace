"""flask-cors option tables, wherever a scenario writes one: `[backend.cors]`, a blueprint's `cors`, a route's `cross_origin`."""

from __future__ import annotations

from typing import Any, Dict

from ..locate import KeyPath
from .checker import Checker

FLASK_CORS_OPTIONS = (
    "origins",
    "methods",
    "expose_headers",
    "allow_headers",
    "supports_credentials",
    "max_age",
    "send_wildcard",
    "vary_header",
    "automatic_options",
    "resources",
    "intercept_exceptions",
    "always_send",
    "allow_private_network",
)


def read_cors_options(check: Checker, raw: Any, where: KeyPath) -> Dict[str, Any]:
    """The options as written (flask-cors judges their values); only their names, and those of `resources`, are checked."""
    table = check.table(raw, where, FLASK_CORS_OPTIONS)
    resources = table.get("resources")
    if isinstance(resources, dict):
        for pattern, options in resources.items():
            check.table(options, where + ("resources", pattern), FLASK_CORS_OPTIONS)
    return table
