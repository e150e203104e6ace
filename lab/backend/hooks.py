"""Hand-written CORS in `after_request` / `before_request`, and error handlers, as the seeds write them."""

from __future__ import annotations

from typing import Mapping, Optional

from flask import Flask, Response, make_response, request

from ..scenario.model import ErrorHandler, Hook
from .template import fill
from .views import answer_response, set_headers


def _origin_allowed(hook: Hook, origins: Mapping[str, str]) -> bool:
    if hook.only_origins is None:
        return True
    allowed = {fill(o, origins) for o in hook.only_origins}
    return request.headers.get("Origin") in allowed


def install_hook(app: Flask, hook: Hook, origins: Mapping[str, str]) -> None:
    """Register one manual hook on the app, in the order the scenario lists them."""
    if hook.when == "after_request":

        def after(response: Response) -> Response:
            if _origin_allowed(hook, origins):
                set_headers(response, hook.headers, origins)
            return response

        app.after_request(after)
        return

    def before() -> Optional[Response]:
        if request.method not in hook.methods:
            return None
        if hook.response == "default-options":
            response = app.make_default_options_response()
        else:
            response = make_response("", hook.status)
        if _origin_allowed(hook, origins):
            set_headers(response, hook.headers, origins)
        return response

    app.before_request(before)


def install_error_handler(app: Flask, handler: ErrorHandler, origins: Mapping[str, str]) -> None:
    def handle(_: Exception) -> Response:
        return answer_response(handler.answer, origins)

    app.register_error_handler(handler.code, handle)
