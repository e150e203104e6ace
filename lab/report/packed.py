"""The cells of a results document packed for the HTML report: every distinct thing stored once.

A matrix repeats itself: the same exchange (the same request headers, the same
response headers) happens in every pin and often every browser, and the same
console message, model rule and outcome come back thousands of times. The report
stores each distinct string, header list and exchange once and refers to them by
index; a cell is five numbers. The page decodes a cell's details when it is
opened (see `CELL` for the layout; `unpack` is the same decoding in Python).

What is left out is noise, said so on the page: the browsers' routine request
headers (User-Agent, Accept, ...), the Date response header, and the lab's own
per-case `cors_lab=` request token (which would make every URL and console
message unique).
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Hashable, Iterable, List, Optional, Tuple

NOISY_REQUEST_HEADERS = frozenset(
    {
        "user-agent",
        "accept",
        "accept-language",
        "accept-encoding",
        "connection",
        "priority",
        "referer",
        "upgrade-insecure-requests",
        "cache-control",
        "pragma",
        "sec-ch-ua",
        "sec-ch-ua-mobile",
        "sec-ch-ua-platform",
    }
)
NOISY_RESPONSE_HEADERS = frozenset({"date"})
TOKEN = re.compile(r"([?&])cors_lab=[\w.~%-]*(&?)")

# A shape is what a cell says, apart from where it is (case, browser, pin) and how long it took.
# "s" fields are indexes into the strings (-1: none), "j" fields strings holding JSON, "l" lists of string indexes,
# "n" the names of a mapping as such a list (the page shows which headers were readable, not their values),
# "x" lists of exchange indexes; the others are stored as they are.
SHAPE = (
    ("outcome", "s"),
    ("expected", "s"),
    ("matched", ""),
    ("status", ""),
    ("response_type", "s"),
    ("preflight", ""),
    ("preflights", ""),
    ("cookies_sent", ""),
    ("readable_headers", "n"),
    ("read_headers", "j"),
    ("error", "s"),
    ("console", "l"),
    ("reason", "s"),
    ("model", "j"),
    ("agrees", ""),
    ("browser_reason", "s"),
    ("exchanges", "x"),
    ("finding", "s"),
    ("accepted", "s"),
    ("local_network", "j"),
)
CELL = ("case", "browser", "pin", "shape", "ms")  # per cell, in "cells": five numbers
EXCHANGE = ("kind", "method", "path", "request_headers", "status", "response_headers", "failure")  # s s s l - l s


def untokened(text: str) -> str:
    """`text` without the lab's `cors_lab=N-hex` query parameter (`/x?cors_lab=3-ab12&y=1` -> `/x?y=1`)."""
    if "cors_lab=" not in text:
        return text
    return TOKEN.sub(lambda match: match.group(1) if match.group(2) else "", text)


class _Table:
    """Values stored once each, in the order first seen."""

    def __init__(self) -> None:
        self.values: List[Any] = []
        self.index: Dict[Hashable, int] = {}

    def add(self, key: Hashable, value: Any) -> int:
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.values)
            self.values.append(value)
        return found


class _Packer:
    def __init__(self) -> None:
        self.strings, self.lists, self.exchanges, self.shapes, self.cases = (
            _Table(),
            _Table(),
            _Table(),
            _Table(),
            _Table(),
        )
        self._clean: Dict[str, int] = {}
        self._pairs: Dict[frozenset, Dict[Tuple[Any, Any], Tuple[int, ...]]] = {}

    def text(self, value: Any) -> int:
        if value is None:
            return -1
        if not isinstance(value, str):
            value = json.dumps(value)
        found = self._clean.get(value)
        if found is None:
            clean = untokened(value)
            found = self._clean[value] = self.strings.add(clean, clean)
        return found

    def json(self, value: Any) -> int:
        if value is None:
            return -1
        return self.text(json.dumps(value, separators=(",", ":"), sort_keys=False))

    def list(self, numbers: Iterable[int]) -> int:
        key = tuple(numbers)
        return self.lists.add(key, list(key))

    def headers(self, headers: Any, noisy: frozenset) -> int:
        """A flat list of name and value indexes, without the noisy names."""
        pairs = headers.items() if isinstance(headers, dict) else (headers or [])
        known = self._pairs.setdefault(noisy, {})
        flat: List[int] = []
        for pair in pairs:
            name, value = (pair[0], pair[1]) if len(pair) > 1 else (pair[0], "")
            try:
                indexes = known[name, value]
            except (KeyError, TypeError):  # TypeError: a value that is not a string (nor hashable)
                indexes = (
                    ()
                    if str(name).lower() in noisy
                    else (self.text(str(name)), self.text(value if isinstance(value, str) else json.dumps(value)))
                )
                if isinstance(value, str):
                    known[name, value] = indexes
            flat += indexes
        return self.list(flat)

    def exchange(self, exchange: Dict[str, Any]) -> int:
        packed = (
            self.text(exchange.get("kind")),
            self.text(exchange.get("method")),
            self.text(exchange.get("path")),
            self.headers(exchange.get("request_headers"), NOISY_REQUEST_HEADERS),
            exchange.get("status"),
            self.headers(exchange.get("response_headers"), NOISY_RESPONSE_HEADERS),
            self.text(exchange.get("failure")),
        )
        key = packed if isinstance(packed[4], int) and not isinstance(packed[4], bool) else json.dumps(packed)
        return self.exchanges.add(key, list(packed))

    def shape(self, row: Dict[str, Any]) -> int:
        packed: List[Any] = []
        for field, kind in SHAPE:
            value = row.get(field)
            if kind == "s":
                packed.append(self.text(value))
            elif kind == "j":
                packed.append(self.json(value))
            elif kind == "l":
                packed.append(self.list(self.text(line) for line in value or []))
            elif kind == "n":
                packed.append(self.list(self.text(name) for name in (value if isinstance(value, dict) else {})))
            elif kind == "x":
                packed.append(self.list(self.exchange(exchange) for exchange in value or []))
            else:
                packed.append(value)
        return self.shapes.add(json.dumps(packed), packed)

    def cell(self, row: Dict[str, Any]) -> List[Any]:
        case = [self.text(row.get("scenario")), self.text(row.get("group")), self.text(row.get("case"))]
        duration = row.get("duration_ms")
        return [
            self.cases.add(tuple(case), case),
            self.text(row.get("browser")),
            self.text(row.get("pin", "")),
            self.shape(row),
            round(duration) if isinstance(duration, (int, float)) else None,
        ]


def pack(rows: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    """{"s": strings, "l": lists, "x": exchanges, "k": shapes, "c": cases, "cells": five numbers per cell}."""
    packer = _Packer()
    cells: List[Any] = []
    for row in rows:
        cells += packer.cell(row)
    return {
        "s": packer.strings.values,
        "l": packer.lists.values,
        "x": packer.exchanges.values,
        "k": packer.shapes.values,
        "c": packer.cases.values,
        "cells": cells,
    }


def unpack(data: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The cells as the page shows them (what `pack` kept), for tests and tools: the page's decoding, in Python."""
    strings, lists = data["s"], data["l"]

    def text(index: int) -> Optional[str]:
        return None if index < 0 else strings[index]

    def pairs(index: int) -> List[Tuple[str, str]]:
        flat = lists[index]
        return [(strings[flat[i]], strings[flat[i + 1]]) for i in range(0, len(flat), 2)]

    def exchange(index: int) -> Dict[str, Any]:
        kind, method, path, request, status, response, failure = data["x"][index]
        return {
            "kind": text(kind),
            "method": text(method),
            "path": text(path),
            "request_headers": pairs(request),
            "status": status,
            "response_headers": pairs(response),
            "failure": text(failure),
        }

    rows = []
    cells = data["cells"]
    for at in range(0, len(cells), len(CELL)):
        case, browser, pin, shape, ms = cells[at : at + len(CELL)]
        scenario, group, name = data["c"][case]
        row: Dict[str, Any] = {
            "scenario": text(scenario),
            "group": text(group),
            "case": text(name),
            "browser": text(browser),
            "pin": text(pin),
            "duration_ms": ms,
        }
        for (field, kind), value in zip(SHAPE, data["k"][shape]):
            if kind == "s":
                row[field] = text(value)
            elif kind == "j":
                row[field] = None if value < 0 else json.loads(strings[value])
            elif kind in ("l", "n"):
                row[field] = [strings[i] for i in lists[value]]
            elif kind == "x":
                row[field] = [exchange(i) for i in lists[value]]
            else:
                row[field] = value
        rows.append(row)
    return rows
