"""View functions for scenario routes: respond, raise, abort, redirect or hang."""

from __future__ import annotations

import threading
from typing import Any, Callable, Mapping

from flask import Response, abort, make_response, redirect, request

from ..scenario.model import Answer, Headers, Route
from .recorder import RESET_KEY
from .template import fill

HANG_SECONDS = 600.0


def answer_response(answer: Answer, origins: Mapping[str, str], raw: bool = False) -> Response:
    """A response for a fixed answer; `raw` means exactly these headers, nothing added by the view."""
    response = Response(answer.body, status=answer.status)
    set_headers(response, answer.headers, origins, replace=not raw)
    return response


def set_headers(response: Response, headers: Headers, origins: Mapping[str, str], replace: bool = True) -> None:
    """Apply header pairs. `replace` mimics `response.headers[name] = value`; otherwise pairs are added (duplicates kept)."""
    request_origin = request.headers.get("Origin", "")
    for name, value in headers:
        filled = fill(value, origins, request_origin)
        if replace:
            response.headers[name] = filled
        else:
            response.headers.add(name, filled)


def _redirect_target(route: Route, origins: Mapping[str, str]) -> str:
    """The redirect target keeps the query string, so that the lab can follow one case across hops."""
    target = fill(route.redirect_to or "/", origins)
    query = request.query_string.decode("latin-1")
    if query and "?" not in target:
        target = f"{target}?{query}"
    return target


def make_view(route: Route, origins: Mapping[str, str], stopping: threading.Event) -> Callable[..., Any]:
    """Build the view for one route; `stopping` ends hung views when the run ends."""

    def view(**_: Any) -> Any:
        if request.method == "OPTIONS" and route.preflight is not None:
            return answer_response(route.preflight, origins, raw=route.raw)
        if route.action == "raise":
            raise RuntimeError(f"cors-lab: route {route.path} raises on purpose")
        if route.action == "abort":
            abort(route.abort_status or 500)
        if route.action == "redirect":
            target = _redirect_target(route, origins)
            if route.raw:
                return answer_response(
                    Answer(route.redirect_status, "", route.headers + (("Location", target),)), origins, raw=True
                )
            response = redirect(target, code=route.redirect_status)
            set_headers(response, route.headers, origins, replace=False)  # CORS headers on the 3xx itself
            return response
        if route.action == "hang":
            stopping.wait(HANG_SECONDS)
        if route.action == "reset":  # the recorder drops the connection without an answer, as a crashed upstream would
            request.environ[RESET_KEY] = f"route {route.path} resets the connection on purpose"
            return make_response("", 500)
        body = route.body if route.body is not None else f"ok: {request.method} {route.path}"
        if route.raw:
            return answer_response(Answer(route.status, body, route.headers), origins, raw=True)
        response = make_response(body, route.status)
        set_headers(response, route.headers, origins, replace=False)
        return response

    return view
