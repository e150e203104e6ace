"""`[origins]`: the names a scenario gives its pages and API, and the `{name}` placeholders that refer to them."""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, Optional

from ..locate import KeyPath
from ..model import Origin, is_localhost_name
from ..spaces import SPACES, default_space
from .checker import Checker

DEFAULT_ORIGINS = {"app": "http://app.localhost", "api": "http://api.localhost"}
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
REQUEST_ORIGIN = "request_origin"
"""Placeholder for the request's own Origin header: how reflection is written."""

_ORIGIN = re.compile(r"(https?)://([^/:?#@\s]+)(?::(\d+))?")
_HOST_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def read_origins(check: Checker, raw: Any) -> Dict[str, Origin]:
    """The defaults (app, api) with the file's own origins over them, each written as a browser serialises it."""
    table = dict(DEFAULT_ORIGINS)
    if raw is not None:
        if not isinstance(raw, dict):
            check.fail(
                ("origins",), '[origins] must be a table of name = "scheme://host" (or { url = ..., space = ... })'
            )
        else:
            table.update(raw)
    origins = {}
    for name, value in table.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name == REQUEST_ORIGIN:
            check.fail(
                ("origins", name), f"origin name {name!r} must be a plain identifier other than {REQUEST_ORIGIN!r}"
            )
            continue
        origin = _origin(check, name, value)
        if origin is not None:
            origins[name] = origin
    written = [o.as_written for o in origins.values() if o.as_written]
    for name, origin in origins.items():
        if origin.as_written and written.count(origin.as_written) > 1:
            check.fail(("origins", name), f"origin {origin.as_written} is declared twice in [origins]")
    return origins


def _origin(check: Checker, name: str, value: Any) -> Optional[Origin]:
    """`http://NAME.localhost` (the lab assigns the port) or any http/https origin as a browser serialises it, with
    the address space it lives in: `{ url = "...", space = "public" }`, else its default (lab/scenario/spaces.py)."""
    where: KeyPath = ("origins", name)
    space: Optional[str] = None
    if isinstance(value, dict):
        table = check.table(value, where, ("url", "space"), required=("url",))
        space = check.get(table, "space", where, str, None, SPACES)
        value = table.get("url", "")
    origin = _url(check, name, value, where)
    if origin is None:
        return None
    declared = space or default_space(origin.host, origin.port is None)
    return Origin(origin.name, origin.scheme, origin.host, origin.port, origin.line, declared)


def _url(check: Checker, name: str, value: Any, where: KeyPath) -> Optional[Origin]:
    match = _ORIGIN.fullmatch(value) if isinstance(value, str) else None
    if not match:
        check.fail(
            where,
            f'origin {name} = {value!r} must be an http or https origin such as "https://app.example.com",'
            ' "http://localhost:5173" or "http://app.localhost" (no path, no trailing slash)',
        )
        return None
    scheme, host, port_text = match.groups()
    written = f"{scheme}://{host.lower()}" + (f":{port_text}" if port_text else "")
    if host != host.lower():
        check.fail(where, f"origin {name} = {value!r}: browsers send host names in lower case; write {written!r}")
        return None
    labels = host.split(".")
    if not all(_HOST_LABEL.fullmatch(label) for label in labels):
        check.fail(
            where, f"origin {name} = {value!r}: {host!r} is not a host name (letters, digits and '-' between dots)"
        )
        return None
    if port_text is None and is_localhost_name(host):
        return Origin(name=name, scheme=scheme, host=host)  # the lab assigns the port
    default = 443 if scheme == "https" else 80
    port = int(port_text) if port_text else default
    if not 1 <= port <= 65535:
        check.fail(where, f"origin {name} = {value!r}: port {port} is not between 1 and 65535")
        return None
    if port_text and port == default:
        check.fail(
            where,
            f"origin {name} = {value!r}: a browser writes this origin without its default port;"
            f' write "{scheme}://{host}"',
        )
        return None
    return Origin(name=name, scheme=scheme, host=host, port=port, line=check.lines.line_of(where))


GENERATED = ("tmp", "secret")
"""Placeholders the app's host fills (lab/backend/hosted.py), per host: they are not origins."""


def check_placeholders(check: Checker, table: Dict[str, Any], origins: Dict[str, Origin]) -> None:
    """Every `{name}` in the backend and the cases names a declared origin (or the request's own); the user's app's
    `env` may also name what its host generates: `{tmp}` (a fresh folder) and `{secret}` (a random key)."""
    known = set(origins) | {REQUEST_ORIGIN}
    backend = table.get("backend", {})
    generated = set(GENERATED) if isinstance(backend, dict) and "app" in backend else set()
    for section in ("backend", "cases"):
        for name in sorted(set(_placeholders(table.get(section, {})))):
            if name not in known and not (section == "backend" and name in generated):
                check.fail((section,), f"{{{name}}} is not a declared origin (declared: {', '.join(sorted(origins))})")


def _placeholders(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield from PLACEHOLDER.findall(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _placeholders(k)
            yield from _placeholders(v)
    elif isinstance(value, list):
        for v in value:
            yield from _placeholders(v)
