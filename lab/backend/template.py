"""Fill `{name}` placeholders in scenario values with the real origins of this run."""

from __future__ import annotations

import datetime
from typing import Any, Mapping

from ..scenario.load import PLACEHOLDER, REQUEST_ORIGIN


def fill(value: Any, origins: Mapping[str, str], request_origin: str = "") -> Any:
    """Replace `{app}` with `http://app.localhost:PORT` (recursively); `{request_origin}` with the request's Origin.

    A table `{timedelta = {hours = 1}}` becomes a `datetime.timedelta`, because
    flask-cors accepts one for `max_age` and the seeds use it.
    """
    if isinstance(value, str):

        def replace(match: Any) -> str:
            name = match.group(1)
            if name == REQUEST_ORIGIN:
                return request_origin
            return origins.get(name, match.group(0))

        return PLACEHOLDER.sub(replace, value)
    if isinstance(value, dict):
        if set(value) == {"timedelta"} and isinstance(value["timedelta"], dict):
            return datetime.timedelta(**value["timedelta"])
        return {fill(k, origins, request_origin): fill(v, origins, request_origin) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [fill(v, origins, request_origin) for v in value]
    return value
