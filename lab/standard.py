"""A model of the Fetch standard's CORS checks, applied to what a cell really exchanged.

Given the request the page made and the exchanges the server recorded (preflight,
redirects, actual response), `judge` predicts whether the page may read the
response, names the rule that failed in plain words, and proposes the change in
flask-cors terms. Where browsers disagree with it, either a browser deviates from
the standard or the model has a gap: both are worth knowing, so reports mark them.

Covered: modes (same-origin, no-cors), the CORS check (Allow-Origin, credentials),
the CORS-preflight fetch (ok status, methods, headers, wildcards), redirects
(error and manual modes, CORS on each hop, origin tainting, 303 to GET), and a
preflight the browser took from its cache (no preflight recorded for a repeat).
A response with a NUL, CR or LF in a header is not valid HTTP: a network error
before any CORS check (what header names and values may hold is defined here too,
and the loader refuses request headers that fetch() would not send as written).
Local Network Access (a page reaching a more private address space: `request["local_network"]`) is checked
before anything is sent: a non-secure page is refused, a secure one needs the local-network permission.
Not covered: mixed content, request-header value limits beyond the basic safelist.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Sequence
from urllib.parse import urlsplit

SAFELISTED_METHODS = {"GET", "HEAD", "POST"}
NORMALIZED_METHODS = {"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"}
SAFELISTED_CONTENT_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
HTTP_WHITESPACE = " \t\r\n"
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""A header name is a token (RFC 9110 field-name)."""
NOT_IN_A_VALUE = {"\x00": "a NUL", "\r": "a CR", "\n": "an LF"}
"""What a header value may never hold (Fetch: a header value); browsers reject a response that has one."""
FORBIDDEN_REQUEST_HEADERS = frozenset(
    name.lower()
    for name in (
        "Accept-Charset",
        "Accept-Encoding",
        "Access-Control-Request-Headers",
        "Access-Control-Request-Method",
        "Connection",
        "Content-Length",
        "Cookie",
        "Cookie2",
        "Date",
        "DNT",
        "Expect",
        "Host",
        "Keep-Alive",
        "Origin",
        "Referer",
        "Set-Cookie",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Via",
    )
)
"""Fetch's forbidden request-headers: the browser alone sets them, and fetch() silently drops them (so do names
starting with `Proxy-` or `Sec-`, and a method-override header that names CONNECT, TRACE or TRACK)."""
FORBIDDEN_PREFIXES = ("proxy-", "sec-")
METHOD_OVERRIDES = frozenset({"x-http-method", "x-http-method-override", "x-method-override"})
FORBIDDEN_METHODS = frozenset({"CONNECT", "TRACE", "TRACK"})
_FORBIDDEN_HINTS = {
    "cookie": ' (to send a cookie, let a route set it and use credentials = "include")',
    "origin": " (the browser sends the page's origin: choose the case's `page`, or sandboxed = true for null)",
}


@dataclass
class Judgement:
    """The model's prediction for one cell, the rule behind it, and what to change."""

    prediction: str  # allowed | blocked | error (a network error: the response is not valid HTTP)
    rule: str
    fix: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _values(headers: Sequence[Sequence[str]], name: str) -> List[str]:
    return [value for key, value in headers if key.lower() == name.lower()]


def _tokens(headers: Sequence[Sequence[str]], name: str) -> List[str]:
    return [token.strip() for value in _values(headers, name) for token in value.split(",") if token.strip()]


def unsafe_request_headers(headers: Dict[str, str]) -> List[str]:
    """Header names that are not CORS-safelisted (so they need a preflight), lower-cased and sorted."""
    unsafe = []
    for name, value in headers.items():
        lower = name.lower()
        if lower in ("accept", "accept-language", "content-language"):
            if len(value) <= 128:
                continue
        elif lower == "content-type":
            essence = value.split(";", 1)[0].strip().lower()
            if essence in SAFELISTED_CONTENT_TYPES and len(value) <= 128:
                continue
        unsafe.append(lower)
    return sorted(unsafe)


def _shown(name: str) -> str:
    """A header name as a reason shows it: plain when it is a token, quoted with escapes otherwise."""
    return name if HEADER_NAME.fullmatch(name) else repr(name)


def request_header_problem(name: str, value: str) -> Optional[str]:
    """Why fetch() would not send this request header as written (None: it sends exactly this).

    A name must be a token and a value bytes without NUL, CR or LF (else fetch() throws); leading and trailing
    whitespace is trimmed; forbidden request-headers are dropped without a word."""
    if not HEADER_NAME.fullmatch(name):
        return (
            f"request header name {name!r} is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~ only):"
            " fetch() throws before sending anything"
        )
    trimmed = value.strip(HTTP_WHITESPACE)
    for char, what in NOT_IN_A_VALUE.items():
        if char in trimmed:
            return (
                f"request header {name} holds {what}: a header value cannot contain NUL, CR or LF,"
                " so fetch() throws before sending anything"
            )
    wide = next((c for c in trimmed if ord(c) > 0xFF), None)
    if wide is not None:
        return (
            f"request header {name} holds {wide!r} (U+{ord(wide):04X}): header values are bytes (U+0000 to U+00FF),"
            " so fetch() throws before sending anything"
        )
    if trimmed != value:
        return (
            f"request header {name} = {value!r}: fetch() trims leading and trailing whitespace and sends"
            f" {trimmed!r}; write that"
        )
    lower = name.lower()
    if lower in FORBIDDEN_REQUEST_HEADERS or lower.startswith(FORBIDDEN_PREFIXES):
        return (
            f"{name} is a forbidden request header: the browser alone sets it and fetch() silently drops it,"
            f" so it is never sent as written{_FORBIDDEN_HINTS.get(lower, '')}"
        )
    if lower in METHOD_OVERRIDES:
        named = [m.strip(HTTP_WHITESPACE) for m in value.split(",")]
        forbidden = [m for m in named if m.upper() in FORBIDDEN_METHODS]
        if forbidden:
            return (
                f"request header {name} names the forbidden method {forbidden[0]}: fetch() silently drops the"
                " header, so it is never sent"
            )
    return None


def malformed_header(headers: Sequence[Sequence[str]]) -> Optional[str]:
    """What makes a response's headers invalid HTTP that browsers reject as a network error, or None.

    A NUL, CR or LF in a header value (the Fetch standard: a network error; Chromium says
    net::ERR_INVALID_HTTP_RESPONSE, Firefox and WebKit fail the fetch too) or in a name (Chromium and WebKit reject it;
    Firefox reads such a response, so there it disagrees with the model; whatwg/fetch#1747). Names that are merely not
    tokens (a space, parentheses) and other control bytes are tolerated by every engine, so they are not counted."""
    for name, value in headers:
        for char, what in NOT_IN_A_VALUE.items():
            if char in value:
                return f"header {_shown(name)} holds {what}"
            if char in name:
                return f"header name {name!r} holds {what}"
    return None


def cors_check(headers: Sequence[Sequence[str]], origin: str, credentialed: bool, what: str) -> Optional[Judgement]:
    """The CORS check on one response; None when it passes."""
    allow_origin = _values(headers, "Access-Control-Allow-Origin")
    if not allow_origin:
        return Judgement(
            "blocked",
            f"the {what} has no Access-Control-Allow-Origin header",
            f"allow the page's origin {origin}: add it to flask-cors `origins` and make sure the route is"
            " covered (`resources`, the blueprint, or @cross_origin)",
        )
    if len(allow_origin) > 1 or "," in allow_origin[0]:
        return Judgement(
            "blocked",
            f"the {what} has several Access-Control-Allow-Origin values ({', '.join(allow_origin)})",
            "only one layer may set Access-Control-Allow-Origin: remove it from the proxy (add_header) or from Flask",
        )
    value = allow_origin[0].strip()
    if value == "*":
        if credentialed:
            return Judgement(
                "blocked",
                f"the {what} allows '*', which never allows a request with credentials",
                "name the origin instead of '*': origins=[...] with supports_credentials=True (flask-cors then"
                " echoes the allowed origin), or make the request without credentials",
            )
    elif value != origin:
        return Judgement(
            "blocked",
            f"the {what} allows {value!r}, not the page's origin {origin!r}",
            f"allow exactly {origin} (scheme, host and port must match)",
        )
    if credentialed:
        allow_credentials = _values(headers, "Access-Control-Allow-Credentials")
        if allow_credentials != ["true"]:
            found = ", ".join(allow_credentials) or "nothing"
            return Judgement(
                "blocked",
                f"the request has credentials but the {what}'s Access-Control-Allow-Credentials is {found}, not exactly 'true'",
                "set supports_credentials=True (it sends Access-Control-Allow-Credentials: true)",
            )
    return None


def _preflight_check(
    exchange: Dict[str, Any], origin: str, credentialed: bool, method: str, unsafe: List[str]
) -> Optional[Judgement]:
    headers = exchange.get("response_headers", [])
    status = exchange.get("status")
    if status is None:
        return Judgement("blocked", "the preflight got no answer", "make OPTIONS requests return promptly")
    if not 200 <= status <= 299:
        return Judgement(
            "blocked",
            f"the preflight was answered {status}, not an ok status (200-299)",
            "let OPTIONS succeed: keep flask-cors's automatic_options=True, do not reject OPTIONS in"
            " before_request or in the view, and do not raise for it",
        )
    failed = cors_check(headers, origin, credentialed, "preflight response")
    if failed:
        return failed
    methods = _tokens(headers, "Access-Control-Allow-Methods")
    if method not in SAFELISTED_METHODS and method not in methods and not ("*" in methods and not credentialed):
        why = "lists " + ", ".join(methods) if methods else "is missing"
        if "*" in methods:
            why = "is '*', which does not count when the request has credentials"
        return Judgement(
            "blocked",
            f"the preflight's Access-Control-Allow-Methods {why}: {method} is not allowed",
            f"add {method} to flask-cors `methods`",
        )
    allowed_headers = {h.lower() for h in _tokens(headers, "Access-Control-Allow-Headers")}
    for name in unsafe:
        covered = name in allowed_headers or ("*" in allowed_headers and not credentialed and name != "authorization")
        if not covered:
            why = "does not list"
            if "*" in allowed_headers:
                why = (
                    "is '*', which does not cover"
                    if name != "authorization" or credentialed
                    else "is '*', which never covers"
                )
            return Judgement(
                "blocked",
                f"the preflight's Access-Control-Allow-Headers {why} {name}",
                f"add {name} to flask-cors `allow_headers`",
            )
    return None


LOCAL_NETWORK_FIX = (
    "on the page side, serve it from a secure context and ask for the local-network permission (the user grants it);"
    " on the server side nothing replaces the permission: flask-cors `allow_private_network=True` only answers the"
    " old Private Network Access preflight (Access-Control-Request-Private-Network), which browsers no longer send"
)


def local_network_check(space: Dict[str, Any]) -> Optional[Judgement]:
    """Local Network Access for a page reaching a more private address space, before any request is sent.

    The draft counts a local page reaching loopback too; Chromium 156 and Firefox ESR 153 let that through
    (measured, docs/local-network-access.md), so only a public page's requests are checked here."""
    page, target, permission = space["page_space"], space["target_space"], space["permission"]
    if page != "public":
        return None
    if not space.get("secure_page", True):
        return Judgement(
            "blocked",
            f"a non-secure public page may not reach a {target} address (Local Network Access needs a secure context,"
            " whatever the permission): nothing is sent",
            "serve the page over https; then the user must grant the local-network permission",
        )
    if permission == "granted":
        return None
    why = "nobody answered the permission prompt" if permission == "prompt" else "the permission is denied"
    return Judgement(
        "blocked",
        f"a public page may not reach a {target} address without the local-network permission ({why}):"
        " nothing is sent, not even a preflight",
        LOCAL_NETWORK_FIX,
    )


def judge(request: Dict[str, Any], exchanges: Sequence[Dict[str, Any]]) -> Judgement:
    """Predict the outcome of one cell from the request the page made and what the server exchanged."""
    page_origin = "null" if request.get("sandboxed") else request["page_origin"]
    target = origin_of(request["url"])
    raw_method = request.get("method", "GET")
    method = raw_method.upper() if raw_method.upper() in NORMALIZED_METHODS else raw_method
    credentials = request.get("credentials", "same-origin")
    mode = request.get("mode", "cors")
    headers = request.get("headers") or {}
    for exchange in exchanges:
        malformed = malformed_header(exchange.get("response_headers", []))
        if malformed:
            what = "preflight response" if exchange["kind"] == "preflight" else "response"
            return Judgement(
                "error",
                f"the {what} is not valid HTTP ({malformed}): a network error, before any CORS check",
                "remove the NUL, CR or LF from the header in the app or proxy that sets it",
            )
    if request.get("local_network"):
        refused = local_network_check(request["local_network"])
        if refused is not None:
            return refused
    if mode == "no-cors":
        if method not in SAFELISTED_METHODS:
            return Judgement(
                "blocked",
                f"mode 'no-cors' allows only GET, HEAD and POST, not {method}: fetch() throws",
                "use mode 'cors'",
            )
        if page_origin == target:
            return Judgement("allowed", "a same-origin request in mode 'no-cors' is readable")
        return Judgement(
            "blocked",
            "mode 'no-cors' gives an opaque response: status, headers and body stay hidden",
            "use mode 'cors' (the default) and allow the origin on the server",
        )
    if mode == "same-origin" and page_origin != target:
        return Judgement("blocked", "mode 'same-origin' refuses a cross-origin URL", "use mode 'cors'")
    if not exchanges:
        return Judgement(
            "blocked", "the browser refused before sending anything (for example mixed content, or a forbidden method)"
        )
    origin, current, tainted = page_origin, target, False
    unsafe = unsafe_request_headers(headers)
    for exchange in exchanges:
        cross_origin = tainted or origin != current
        credentialed = credentials == "include" or (credentials == "same-origin" and not cross_origin)
        if exchange["kind"] == "preflight":
            failed = _preflight_check(exchange, "null" if tainted else origin, credentialed, method, unsafe)
            if failed:
                return failed
            continue
        status = exchange.get("status")
        response_headers = exchange.get("response_headers", [])
        if status is None and exchange.get("failure"):
            return Judgement(
                "blocked",
                f"the app failed and the server sent no answer ({exchange['failure']})",
                "fix the app's error; a real server answers 500 without CORS headers",
            )
        if status is None:
            return Judgement("blocked", "the server never answered (a hung route)", "make the route answer")
        if cross_origin:
            failed = cors_check(
                response_headers,
                "null" if tainted else origin,
                credentialed,
                "redirect response" if status in REDIRECT_STATUSES else "response",
            )
            if failed:
                return failed
        if status in REDIRECT_STATUSES and _values(response_headers, "Location"):
            redirect = request.get("redirect", "follow")
            if redirect == "error":
                return Judgement(
                    "blocked", "redirect mode 'error' turns any redirect into a network error", "request the final URL"
                )
            if redirect == "manual":
                return Judgement(
                    "blocked", "redirect mode 'manual' gives an opaque-redirect response", "use redirect 'follow'"
                )
            location = _values(response_headers, "Location")[0]
            next_origin = origin_of(location) if "://" in location else current
            if next_origin != current and current != origin:
                tainted = True  # a cross-origin redirect away from a cross-origin URL: Origin becomes null
            current = next_origin
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, unsafe = "GET", [h for h in unsafe if h != "content-type"]
            continue
        return Judgement(
            "allowed", "the response passed the CORS check" if cross_origin else "a same-origin response is readable"
        )
    return Judgement(
        "blocked", "no final response was recorded (the browser stopped after the preflight or a redirect)"
    )
