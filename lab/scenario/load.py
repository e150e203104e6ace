"""Load scenario files from TOML and validate them into `model` dataclasses.

Every problem in every file is collected (not only the first), each with the
file, the line where it can be known, and what is wrong, so that a person fixes
a folder of scenarios in one pass.
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on older interpreters in the matrix
    import tomli as tomllib

from ..standard import request_header_problem
from .apptarget import AppTargetError, parse_app_target
from .locate import KeyLines, KeyPath
from .versions import problem as version_problem
from .model import (
    ENGINES,
    EXPECTABLE,
    Answer,
    Backend,
    Blueprint,
    Case,
    Claim,
    ErrorHandler,
    Headers,
    Hook,
    Origin,
    Route,
    Scenario,
    is_localhost_name,
    split_expectation,
)

FLASK_CORS_OPTIONS = (
    "origins", "methods", "expose_headers", "allow_headers", "supports_credentials",
    "max_age", "send_wildcard", "vary_header", "automatic_options", "resources",
    "intercept_exceptions", "always_send", "allow_private_network",
)
FLASK_CONFIG_KEYS = ("SECRET_KEY", "PROVIDE_AUTOMATIC_OPTIONS", "SERVER_NAME", "TRUSTED_HOSTS")
"""Flask settings besides CORS_* and SESSION_* that change what a browser sees (see scenarios/flask)."""
SETUP_STEPS = ("cors", "hooks", "routes", "blueprints")
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ROUTE_ACTIONS = ("respond", "raise", "abort", "redirect", "hang", "reset")
DEFAULT_ORIGINS = {"app": "http://app.localhost", "api": "http://api.localhost"}
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
REQUEST_ORIGIN = "request_origin"
"""Placeholder for the request's own Origin header: how reflection is written."""


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else f"{self.path}"
        return f"{where}: {self.message}"


class ScenarioError(Exception):
    """Raised with every problem found, across all files that were loaded."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class _Checker:
    """Collects problems for one file while the loader walks its tables."""

    def __init__(self, path: Path, lines: KeyLines) -> None:
        self.path = path
        self.lines = lines
        self.problems: List[Problem] = []

    def fail(self, where: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.path, self.lines.line_of(where), message))

    def table(self, value: Any, where: KeyPath, allowed: Iterable[str], required: Iterable[str] = ()) -> Dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"{_name(where)} must be a table, not {_type(value)}")
            return {}
        allowed = tuple(allowed)
        for key in value:
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else f" (expected one of: {', '.join(allowed)})"
                self.fail(where + (key,), f"unknown key {key!r} in {_name(where)}{suggestion}")
        for key in required:
            if key not in value:
                self.fail(where, f"{_name(where)} is missing required key {key!r}")
        return value

    def array_of_tables(self, value: Any, where: KeyPath, header: str) -> List[Any]:
        """The items of a `[[header]]` array, or [] (with a problem) when it is written otherwise."""
        if not isinstance(value, list):
            self.fail(where, f"{_name(where)} must be written as [[{header}]] tables")
            return []
        return value

    def get(self, table: Dict[str, Any], key: str, where: KeyPath, kind: type, default: Any = None, choices: Sequence[Any] = ()) -> Any:
        if key not in table:
            return default
        value = table[key]
        wrong_bool = kind is int and isinstance(value, bool)
        if not isinstance(value, kind) or wrong_bool:
            self.fail(where + (key,), f"{_name(where + (key,))} must be {_kind_name(kind)}, not {_type(value)}")
            return default
        if choices and value not in choices:
            self.fail(where + (key,), f"{_name(where + (key,))} is {value!r}; expected one of: {', '.join(map(str, choices))}")
            return default
        return value

    def strings(self, table: Dict[str, Any], key: str, where: KeyPath, default: Tuple[str, ...] = ()) -> Tuple[str, ...]:
        value = table.get(key, list(default))
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(where + (key,), f"{_name(where + (key,))} must be a string or a list of strings")
            return default
        return tuple(value)

    def headers(self, table: Dict[str, Any], key: str, where: KeyPath) -> Headers:
        """Headers as a table (`{Name = "v"}`) or as pairs (`[["Name", "v"], ...]`, duplicates kept)."""
        value = table.get(key)
        if value is None:
            return ()
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return self._sendable(tuple(value.items()), where + (key,))
        if isinstance(value, list) and all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in value
        ):
            return self._sendable(tuple((p[0], p[1]) for p in value), where + (key,))
        self.fail(where + (key,), f"{_name(where + (key,))} must be a table of strings or a list of [name, value] pairs")
        return ()

    def _sendable(self, headers: Headers, where: KeyPath) -> Headers:
        """Response headers the server can put on the wire as written. A CR or LF would end the header line (Flask
        refuses to set such a header and answers 500), so it is refused here; a NUL or a name that is not a token does
        go out as written, and is how a scenario tests a response that is not valid HTTP (see lab/standard.py)."""
        for name, value in headers:
            for char, what in (("\r", "a CR"), ("\n", "an LF")):
                if char in name or char in value:
                    part = "name" if char in name else "value"
                    self.fail(where + (name,), f"response header {name!r} holds {what} in its {part}: on the wire it would end"
                                               " the header line, so it can never be sent as one header (Flask refuses to"
                                               " set it and answers 500); to test a response that is not valid HTTP, use"
                                               " a NUL (\"\\u0000\")")
                    break
        return headers


def _name(where: KeyPath) -> str:
    text = ""
    for part in where:
        text += f"[{part + 1}]" if isinstance(part, int) else (("." if text else "") + part)
    return f"`{text}`" if text else "the file"


def _type(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


def _kind_name(kind: type) -> str:
    return {bool: "a boolean (true or false)", int: "an integer", str: "a string", dict: "a table", list: "an array"}[kind]


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


def _answer(check: _Checker, raw: Any, where: KeyPath) -> Answer:
    table = check.table(raw, where, ("status", "body", "headers"))
    return Answer(
        status=check.get(table, "status", where, int, 200),
        body=check.get(table, "body", where, str, ""),
        headers=check.headers(table, "headers", where),
    )


def _cors_options(check: _Checker, raw: Any, where: KeyPath) -> Dict[str, Any]:
    table = check.table(raw, where, FLASK_CORS_OPTIONS)
    resources = table.get("resources")
    if isinstance(resources, dict):
        for pattern, options in resources.items():
            check.table(options, where + ("resources", pattern), FLASK_CORS_OPTIONS)
    return table


def _methods(check: _Checker, table: Dict[str, Any], where: KeyPath, default: Tuple[str, ...]) -> Tuple[str, ...]:
    methods = tuple(m.upper() for m in check.strings(table, "methods", where, default))
    for method in methods:
        if method not in HTTP_METHODS:
            check.fail(where + ("methods",), f"unknown HTTP method {method!r}; expected one of: {', '.join(HTTP_METHODS)}")
    return methods


def _route(check: _Checker, raw: Any, where: KeyPath) -> Route:
    keys = ("path", "methods", "status", "body", "headers", "raw", "action", "abort_status",
            "redirect_to", "redirect_status", "cross_origin", "preflight")
    table = check.table(raw, where, keys, required=("path",))
    path = check.get(table, "path", where, str, "/")
    if not path.startswith("/"):
        check.fail(where + ("path",), f"route path {path!r} must start with '/'")
    action = check.get(table, "action", where, str, "respond", ROUTE_ACTIONS)
    abort_status = check.get(table, "abort_status", where, int)
    redirect_to = check.get(table, "redirect_to", where, str)
    if action == "abort" and abort_status is None:
        check.fail(where + ("action",), "action = \"abort\" needs abort_status (for example 404)")
    if action == "redirect" and redirect_to is None:
        check.fail(where + ("action",), "action = \"redirect\" needs redirect_to (a path or \"{api}/path\")")
    if redirect_to is not None and action != "redirect":
        check.fail(where + ("redirect_to",), "redirect_to is only used with action = \"redirect\"")
    is_raw = check.get(table, "raw", where, bool, False)
    cross_origin = _cors_options(check, table["cross_origin"], where + ("cross_origin",)) if "cross_origin" in table else None
    if is_raw and cross_origin is not None:
        check.fail(where + ("cross_origin",), "a raw route answers with exactly its headers; it cannot also use cross_origin")
    preflight = _answer(check, table["preflight"], where + ("preflight",)) if "preflight" in table else None
    return Route(
        path=path,
        methods=_methods(check, table, where, ("GET",)),
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


def _routes(check: _Checker, table: Dict[str, Any], where: KeyPath) -> Tuple[Route, ...]:
    raw = check.array_of_tables(table.get("routes", []), where + ("routes",), ".".join(str(p) for p in where if isinstance(p, str)) + ".routes")
    routes = tuple(_route(check, r, where + ("routes", i)) for i, r in enumerate(raw))
    seen: Dict[Tuple[str, str], int] = {}
    for i, route in enumerate(routes):
        for method in route.methods:
            if (route.path, method) in seen:
                check.fail(where + ("routes", i, "path"), f"{method} {route.path} is declared twice")
            seen[(route.path, method)] = i
    return routes


def _blueprints(check: _Checker, raw: Any, where: KeyPath) -> Tuple[Blueprint, ...]:
    raw = check.array_of_tables(raw, where, "backend.blueprints")
    result = []
    for i, item in enumerate(raw):
        at = where + (i,)
        table = check.table(item, at, ("name", "url_prefix", "parent", "cors", "routes"), required=("name",))
        result.append(Blueprint(
            name=check.get(table, "name", at, str, f"bp{i}"),
            url_prefix=check.get(table, "url_prefix", at, str),
            parent=check.get(table, "parent", at, str),
            cors=_cors_options(check, table["cors"], at + ("cors",)) if "cors" in table else None,
            routes=_routes(check, table, at),
            line=check.lines.line_of(at),
        ))
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


def _hooks(check: _Checker, raw: Any, where: KeyPath) -> Tuple[Hook, ...]:
    raw = check.array_of_tables(raw, where, "backend.hooks")
    hooks = []
    for i, item in enumerate(raw):
        at = where + (i,)
        table = check.table(item, at, ("when", "headers", "only_origins", "methods", "response", "status"), required=("when",))
        when = check.get(table, "when", at, str, "after_request", ("after_request", "before_request"))
        if when == "after_request":
            for key in ("methods", "response", "status"):
                if key in table:
                    check.fail(at + (key,), f"{key} applies to before_request hooks only")
        hooks.append(Hook(
            when=when,
            headers=check.headers(table, "headers", at),
            only_origins=check.strings(table, "only_origins", at) if "only_origins" in table else None,
            methods=_methods(check, table, at, ("OPTIONS",)),
            response=check.get(table, "response", at, str, "empty", ("empty", "default-options")),
            status=check.get(table, "status", at, int, 200),
        ))
    return tuple(hooks)


def _error_handlers(check: _Checker, raw: Any, where: KeyPath) -> Tuple[ErrorHandler, ...]:
    raw = check.array_of_tables(raw, where, "backend.error_handlers")
    handlers = []
    for i, item in enumerate(raw):
        at = where + (i,)
        table = check.table(item, at, ("code", "status", "body", "headers"), required=("code",))
        code = check.get(table, "code", at, int, 500)
        handlers.append(ErrorHandler(code=code, answer=Answer(
            status=check.get(table, "status", at, int, code),
            body=check.get(table, "body", at, str, ""),
            headers=check.headers(table, "headers", at),
        )))
    return tuple(handlers)


def _backend(check: _Checker, raw: Any) -> Backend:
    where: KeyPath = ("backend",)
    keys = ("config", "cors", "cors_init", "order", "routes", "blueprints", "hooks", "error_handlers", "proxy_headers",
            "start_error", "app", "project", "env", "requirements")
    table = check.table(raw, where, keys)
    if "app" in table:
        return _app_backend(check, table, where)
    config = check.get(table, "config", where, dict, {})
    for key in config:
        if not key.startswith(("CORS_", "SESSION_")) and key not in FLASK_CONFIG_KEYS:
            check.fail(where + ("config", key), f"config key {key!r} is not a CORS_* or SESSION_* setting nor one of "
                                                f"{', '.join(FLASK_CONFIG_KEYS)}")
    order = check.strings(table, "order", where, SETUP_STEPS)
    if sorted(order) != sorted(SETUP_STEPS):
        check.fail(where + ("order",), f"order must list each of {', '.join(SETUP_STEPS)} exactly once")
        order = SETUP_STEPS
    backend = Backend(
        config=config,
        cors=_cors_options(check, table["cors"], where + ("cors",)) if "cors" in table else None,
        cors_init=check.get(table, "cors_init", where, str, "constructor", ("constructor", "init_app")),
        order=order,
        routes=_routes(check, table, where),
        blueprints=_blueprints(check, table.get("blueprints", []), where + ("blueprints",)),
        hooks=_hooks(check, table.get("hooks", []), where + ("hooks",)),
        error_handlers=_error_handlers(check, table.get("error_handlers", []), where + ("error_handlers",)),
        proxy_headers=check.headers(table, "proxy_headers", where),
        start_error=_start_error(check, table, where),
    )
    if backend.cors is not None:
        for i, route in enumerate(backend.routes):
            if route.raw:
                check.fail(where + ("routes", i, "raw"), "raw routes answer with exactly their headers; they cannot be combined with [backend.cors], which adds headers")
    if not backend.routes and not any(bp.routes for bp in backend.blueprints):
        check.fail(where, "the backend declares no routes: add [[backend.routes]] or blueprint routes")
    return backend


def _start_error(check: _Checker, table: Dict[str, Any], where: KeyPath) -> Dict[str, str]:
    """`start_error = { "flask-cors>=6.0.5" = "Invalid regular expression" }`: releases under which the app must refuse
    to start, with a piece of the error it must raise."""
    raw = check.get(table, "start_error", where, dict, {})
    kept = {}
    for condition, text in raw.items():
        wrong = version_problem(condition)
        if wrong:
            check.fail(where + ("start_error", condition), f"start_error: {wrong}")
        elif not isinstance(text, str) or not text.strip():
            check.fail(where + ("start_error", condition), "start_error: the value must be a piece of the expected error"
                                                           " message, such as \"Invalid regular expression\"")
        else:
            kept[condition] = text
    return kept


_ORIGIN = re.compile(r"(https?)://([^/:?#@\s]+)(?::(\d+))?")
_HOST_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


DESCRIBED_KEYS = ("config", "cors", "cors_init", "order", "routes", "blueprints", "hooks", "error_handlers")


def _app_backend(check: _Checker, table: Dict[str, Any], where: KeyPath) -> Backend:
    """`app = "package.module:create_app()"`: the user's own application, with its project folder and environment."""
    mixed = [key for key in DESCRIBED_KEYS if key in table]
    for key in mixed:
        check.fail(where + (key,), f"`{key}` describes a backend, but `app` names your own application, whose routes,"
                                   " hooks and CORS setup are its own: remove one of them")
    target = None
    text = check.get(table, "app", where, str)
    if text is not None:
        try:
            target = parse_app_target(text)
        except AppTargetError as exc:
            check.fail(where + ("app",), str(exc))
    project_text = check.get(table, "project", where, str)
    project = (check.path.parent / project_text).resolve() if project_text is not None else None
    if project is not None and not project.is_dir():
        check.fail(where + ("project",), f"project = {project_text!r}: no such folder ({project})")
    env = check.get(table, "env", where, dict, {})
    for name, value in env.items():
        if not isinstance(value, str):
            check.fail(where + ("env", name), f"env {name} must be a string (placeholders such as \"{{app}}\" allowed)")
    return Backend(app=target, project=project, env={k: v for k, v in env.items() if isinstance(v, str)},
                   requirements=check.strings(table, "requirements", where),
                   proxy_headers=check.headers(table, "proxy_headers", where), start_error=_start_error(check, table, where))


def _origin(check: _Checker, name: str, value: Any) -> Optional[Origin]:
    """`http://NAME.localhost` (the lab assigns the port) or any http/https origin as a browser serialises it."""
    where: KeyPath = ("origins", name)
    match = _ORIGIN.fullmatch(value) if isinstance(value, str) else None
    if not match:
        check.fail(where, f"origin {name} = {value!r} must be an http or https origin such as \"https://app.example.com\","
                          " \"http://localhost:5173\" or \"http://app.localhost\" (no path, no trailing slash)")
        return None
    scheme, host, port_text = match.groups()
    written = f"{scheme}://{host.lower()}" + (f":{port_text}" if port_text else "")
    if host != host.lower():
        check.fail(where, f"origin {name} = {value!r}: browsers send host names in lower case; write {written!r}")
        return None
    labels = host.split(".")
    if not all(_HOST_LABEL.fullmatch(label) for label in labels):
        check.fail(where, f"origin {name} = {value!r}: {host!r} is not a host name (letters, digits and '-' between dots)")
        return None
    if port_text is None and is_localhost_name(host):
        return Origin(name=name, scheme=scheme, host=host)  # the lab assigns the port
    default = 443 if scheme == "https" else 80
    port = int(port_text) if port_text else default
    if not 1 <= port <= 65535:
        check.fail(where, f"origin {name} = {value!r}: port {port} is not between 1 and 65535")
        return None
    if port_text and port == default:
        check.fail(where, f"origin {name} = {value!r}: a browser writes this origin without its default port;"
                          f" write \"{scheme}://{host}\"")
        return None
    return Origin(name=name, scheme=scheme, host=host, port=port, line=check.lines.line_of(where))


def _origins(check: _Checker, raw: Any) -> Dict[str, Origin]:
    table = dict(DEFAULT_ORIGINS)
    if raw is not None:
        if not isinstance(raw, dict):
            check.fail(("origins",), "[origins] must be a table of name = \"scheme://host\"")
        else:
            table.update(raw)
    origins = {}
    for name, value in table.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name == REQUEST_ORIGIN:
            check.fail(("origins", name), f"origin name {name!r} must be a plain identifier other than {REQUEST_ORIGIN!r}")
            continue
        origin = _origin(check, name, value)
        if origin is not None:
            origins[name] = origin
    written = [o.as_written for o in origins.values() if o.as_written]
    for name, origin in origins.items():
        if origin.as_written and written.count(origin.as_written) > 1:
            check.fail(("origins", name), f"origin {origin.as_written} is declared twice in [origins]")
    return origins


def _version_expectation(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    outcome, text = split_expectation(value)
    return outcome in EXPECTABLE or bool(text)


def _case(check: _Checker, raw: Any, where: KeyPath, origins: Dict[str, Origin]) -> Case:
    keys = ("name", "description", "page", "target", "path", "method", "headers", "body", "credentials",
            "mode", "redirect", "read_headers", "expect", "expect_per_browser", "expect_by_version", "repeat", "pause_ms", "sandboxed",
            "expect_cookies_sent", "expect_cookies_sent_per_browser")
    table = check.table(raw, where, keys, required=("name", "path", "expect"))
    for key in ("page", "target"):
        name = table.get(key, "app" if key == "page" else "api")
        if isinstance(name, str) and name not in origins:
            check.fail(where + (key,), f"{key} {name!r} is not a declared origin (declared: {', '.join(sorted(origins))})")
    per_browser = check.get(table, "expect_per_browser", where, dict, {})
    for engine, outcome in per_browser.items():
        if engine not in ENGINES:
            check.fail(where + ("expect_per_browser", engine), f"unknown browser {engine!r} in expect_per_browser; expected one of: {', '.join(ENGINES)}")
        elif outcome not in EXPECTABLE:
            check.fail(where + ("expect_per_browser", engine), f"expectation {outcome!r} must be one of: {', '.join(EXPECTABLE)}")
    by_version = check.get(table, "expect_by_version", where, dict, {})
    for condition, outcome in by_version.items():
        wrong = version_problem(condition)
        if wrong:
            check.fail(where + ("expect_by_version", condition), f"expect_by_version: {wrong}")
        elif not _version_expectation(outcome):
            check.fail(where + ("expect_by_version", condition), f"expectation {outcome!r} must be one of: "
                       f"{', '.join(EXPECTABLE)}, or \"error: TEXT\" (the app fails with TEXT in its error)")
    cookies_per_browser = check.get(table, "expect_cookies_sent_per_browser", where, dict, {})
    for engine, sent in cookies_per_browser.items():
        if engine not in ENGINES or not isinstance(sent, bool):
            check.fail(where + ("expect_cookies_sent_per_browser", engine), "expect_cookies_sent_per_browser maps a browser"
                       f" ({', '.join(ENGINES)}) to true or false")
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
        expect_cookies_sent_per_browser={k: v for k, v in cookies_per_browser.items() if k in ENGINES and isinstance(v, bool)},
        expect=check.get(table, "expect", where, str, "allowed", EXPECTABLE),
        expect_per_browser={k: v for k, v in per_browser.items() if k in ENGINES and v in EXPECTABLE},
        expect_by_version={k: v for k, v in by_version.items() if _version_expectation(v) and not version_problem(k)},
        line=check.lines.line_of(where),
    )


def _scenario(path: Path, scenario_id: str, check: _Checker, data: Dict[str, Any]) -> Scenario:
    table = check.table(data, (), ("title", "description", "source", "tags", "origins", "backend", "cases", "claims"),
                        required=("title", "backend", "cases"))
    origins = _origins(check, table.get("origins"))
    raw_cases = table.get("cases", [])
    if not isinstance(raw_cases, list) or not raw_cases:
        check.fail(("cases",), "a scenario needs at least one [[cases]] table")
        raw_cases = []
    cases = tuple(_case(check, c, ("cases", i), origins) for i, c in enumerate(raw_cases))
    names = [c.name for c in cases]
    for i, name in enumerate(names):
        if names.index(name) != i:
            check.fail(("cases", i, "name"), f"case name {name!r} is used twice in this file")
    claims = _claims(check, table.get("claims", []), cases)
    known = set(origins) | {REQUEST_ORIGIN}
    for section in ("backend", "cases"):
        for name in sorted(set(_placeholders(table.get(section, {})))):
            if name not in known:
                check.fail((section,), f"{{{name}}} is not a declared origin (declared: {', '.join(sorted(origins))})")
    return Scenario(
        id=scenario_id,
        path=path,
        title=check.get(table, "title", (), str, path.stem),
        description=check.get(table, "description", (), str, ""),
        source=check.get(table, "source", (), str, ""),
        tags=check.strings(table, "tags", ()),
        origins=origins,
        backend=_backend(check, table.get("backend", {})),
        cases=cases,
        claims=claims,
    )


def _claims(check: _Checker, raw: Any, cases: Sequence[Case]) -> Tuple[Claim, ...]:
    case_names = [c.name for c in cases]
    claims = []
    for i, item in enumerate(check.array_of_tables(raw, ("claims",), "claims")):
        at: KeyPath = ("claims", i)
        table = check.table(item, at, ("text", "source", "case", "holds_if", "holds_if_preflights", "holds_if_readable"),
                            required=("text", "case", "holds_if"))
        case = check.get(table, "case", at, str, "")
        if case and case not in case_names:
            check.fail(at + ("case",), f"claim refers to case {case!r}, which this file does not declare")
        readable = table.get("holds_if_readable")
        if isinstance(readable, str) and case in case_names and readable.lower() not in (
                h.lower() for h in cases[case_names.index(case)].read_headers):
            check.fail(at + ("holds_if_readable",), f"holds_if_readable {readable!r} must be one of the case's read_headers")
        claims.append(Claim(text=check.get(table, "text", at, str, ""), source=check.get(table, "source", at, str, ""),
                            case=case, holds_if=check.get(table, "holds_if", at, str, "allowed", EXPECTABLE),
                            holds_if_preflights=check.get(table, "holds_if_preflights", at, int),
                            holds_if_readable=check.get(table, "holds_if_readable", at, str)))
    return tuple(claims)


def _decode_line(error: Exception) -> Tuple[int, str]:
    message = str(error)
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    line = getattr(error, "lineno", None) or (int(match.group(1)) if match else 0)
    return int(line), re.sub(r"\s*\(at line \d+, column \d+\)", "", message)


def load_file(path: Path, scenario_id: Optional[str] = None) -> Tuple[Optional[Scenario], List[Problem]]:
    """Parse and validate one file; returns the scenario (if valid) and its problems."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(path, 0, f"cannot read file: {exc}")]
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        line, message = _decode_line(exc)
        return None, [Problem(path, line, f"invalid TOML: {message}")]
    check = _Checker(path, KeyLines(source))
    scenario = _scenario(path, scenario_id or path.stem, check, data)
    return (None if check.problems else scenario), check.problems


def scenario_id(file: Path, library: Optional[Path]) -> str:
    """The same id however the file was named (the folder, the file, or the whole library):
    relative to the library when it is in one (`fetch/redirects`), otherwise `FOLDER/NAME`,
    the folder being the group, so that results of separate runs can be compared."""
    file = file.resolve()
    if library is not None and library.resolve() in file.parents:
        return file.relative_to(library.resolve()).with_suffix("").as_posix()
    return f"{file.parent.name}/{file.stem}"


def discover(paths: Sequence[Path], library: Optional[Path] = None) -> List[Tuple[Path, str]]:
    """Expand files and folders into (file, scenario id) pairs, in a stable order."""
    found: List[Tuple[Path, str]] = []
    problems: List[Problem] = []
    for given in paths:
        if given.is_dir():
            for file in sorted(given.rglob("*.toml")):
                found.append((file, scenario_id(file, library)))
        elif given.is_file():
            found.append((given, scenario_id(given, library)))
        else:
            problems.append(Problem(given, 0, "no such file or folder"))
    if problems:
        raise ScenarioError(problems)
    if not found:
        raise ScenarioError([Problem(p, 0, "no scenario files (*.toml) here") for p in paths])
    return found


LIBRARY = Path(__file__).resolve().parent.parent.parent / "scenarios"


def load_scenarios(paths: Sequence[Path], select: Callable[[Scenario], bool] = lambda s: True) -> List[Scenario]:
    """Load every scenario under `paths`; raise ScenarioError listing every problem in every file."""
    scenarios: List[Scenario] = []
    problems: List[Problem] = []
    ids: Dict[str, Path] = {}
    for file, scenario_id in discover(paths, LIBRARY):
        scenario, found = load_file(file, scenario_id)
        problems.extend(found)
        if scenario is None:
            continue
        if scenario.id in ids:
            problems.append(Problem(file, 0, f"scenario id {scenario.id!r} is also used by {ids[scenario.id]}"))
            continue
        ids[scenario.id] = file
        if select(scenario):
            scenarios.append(scenario)
    if problems:
        raise ScenarioError(problems)
    return scenarios
