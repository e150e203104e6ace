"""Reading results files, merging them, and describing one cell across pins.

Reports and diffs read only results documents (the JSON `cors-lab run --out`
writes), never the lab's live objects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Sequence, Tuple

from ..results import with_defaults

CORS_EVIDENCE = ("access-control-", "vary", "location")


class ResultsInputError(Exception):
    """A file that is not a readable results document."""


def load_document(path: Path) -> Dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ResultsInputError(f"{path}: cannot read results: {exc}") from exc
    if not isinstance(document, dict) or not {"environment", "browsers", "results"} <= set(document):
        raise ResultsInputError(f"{path}: not a cors-lab results file (needs environment, browsers, results)")
    for row in document["results"]:
        if isinstance(row, dict):
            with_defaults(row)
    return document


def merge(documents: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """One document holding every cell of several runs (for example one run per pin)."""
    if len(documents) == 1:
        return documents[0]
    browsers: Dict[str, Any] = {}
    pins: Dict[str, Any] = {}
    for document in documents:
        for browser in document["browsers"]:
            browsers.setdefault(browser["name"], browser)
        for pin in document.get("pins", []):
            pins.setdefault(pin["label"], pin)
    return {
        "schema": documents[0].get("schema", 1),
        "complete": all(d.get("complete", True) for d in documents),
        "environment": documents[0]["environment"],
        "environments": [d["environment"] for d in documents],
        "browsers": list(browsers.values()),
        "pins": list(pins.values()),
        "results": [row for d in documents for row in d["results"]],
    }


def pins_of(document: Dict[str, Any]) -> List[str]:
    labels = [p["label"] for p in document.get("pins", [])]
    for row in document["results"]:
        if row.get("pin", "") not in labels:
            labels.append(row.get("pin", ""))
    return labels


def describe(rows: Sequence[Dict[str, Any]]) -> Tuple[str, bool]:
    """The outcome of one (case, browser) cell over its pins, and whether the pins disagree.

    "allowed" when every pin agrees; "allowed; blocked with flask 3.1 / flask-cors 6.0" when not.
    """
    by_outcome: Dict[str, List[str]] = {}
    for row in rows:
        by_outcome.setdefault(row["outcome"], []).append(row.get("pin", ""))
    if len(by_outcome) <= 1:
        return (next(iter(by_outcome)) if by_outcome else "-"), False
    ranked = sorted(by_outcome.items(), key=lambda item: -len(item[1]))
    majority, rest = ranked[0][0], ranked[1:]
    return majority + "".join(f"; {outcome} with {', '.join(pins)}" for outcome, pins in rest), True


def evidence(row: Dict[str, Any]) -> List[str]:
    """The CORS-relevant part of what the server sent, one line per exchange."""
    lines = []
    for exchange in row.get("exchanges", []):
        headers = [f"{k}: {v}" for k, v in exchange.get("response_headers", []) if k.lower().startswith(CORS_EVIDENCE)]
        status = exchange.get("status")
        lines.append(
            f"{exchange['kind']} {exchange['method']} {exchange['path']} -> {status if status is not None else 'no answer'}"
            + (f" [{'; '.join(headers)}]" if headers else " [no CORS headers]")
        )
    return lines or ["no request reached the server"]


def group_cells(rows: Iterable[Dict[str, Any]]) -> Dict[Tuple[str, str], Dict[str, List[Dict[str, Any]]]]:
    """(scenario, case) -> browser -> the rows of every pin."""
    cells: Dict[Tuple[str, str], Dict[str, List[Dict[str, Any]]]] = {}
    for row in rows:
        cells.setdefault((row["scenario"], row["case"]), {}).setdefault(row["browser"], []).append(row)
    return cells
