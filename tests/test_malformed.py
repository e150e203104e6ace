"""A response that is not valid HTTP is an `error` with that reason, never a CORS refusal (`blocked`).

Measured on the wire: Werkzeug sends a NUL in a header as it is (`X-Bad: a\\x00b`), and every engine rejects such a
response as a network error, whatever its CORS headers: Chromium logs net::ERR_INVALID_HTTP_RESPONSE, Firefox throws
"NetworkError when attempting to fetch resource.", WebKit "Load failed". The page sees the same TypeError as for a
CORS refusal, so only the recorded exchange tells them apart.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import pytest

from lab.backend import Exchange
from lab.cell import classify
from lab.results import ResultRow
from tests.conftest import ENGINES, run_rows

MALFORMED = """\
title = "A response that is not valid HTTP next to a genuine CORS refusal"
tags = ["test"]

[origins]
evil = "http://evil.localhost"

[backend]
cors = { origins = ["{app}"] }

[[backend.routes]]
path = "/nul"
headers = { X-Bad = "a\\u0000b" }

[[backend.routes]]
path = "/odd"
headers = { X-Odd = "a\\u0001b", "X Spaced" = "tolerated" }

[[backend.routes]]
path = "/ok"
methods = ["GET", "PUT"]

[[backend.routes]]
path = "/preflight-nul"
methods = ["PUT", "OPTIONS"]
preflight = { status = 204, headers = { Access-Control-Allow-Origin = "{request_origin}", Access-Control-Allow-Methods = "PUT", X-Bad = "\\u0000" } }

[[cases]]
name = "NUL in a response header"
path = "/nul"
expect = "allowed"

[[cases]]
name = "NUL in a response header, page not allowed"
page = "evil"
path = "/nul"
expect = "blocked"

[[cases]]
name = "NUL in the preflight response"
method = "PUT"
path = "/preflight-nul"
expect = "allowed"

[[cases]]
name = "genuine refusal"
page = "evil"
path = "/ok"
expect = "blocked"

[[cases]]
name = "odd but tolerated headers, page not allowed"
page = "evil"
path = "/odd"
expect = "blocked"

[[cases]]
name = "odd but tolerated headers, allowed"
path = "/odd"
expect = "allowed"
"""
NOT_CORS = "the browser rejected it as a network error, not a CORS refusal"
Cells = Dict[str, ResultRow]


@pytest.fixture(scope="module")
def malformed_cells(browsers: list, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Cells]:
    """The scenario, run once in every browser; cells by engine, then case."""
    folder = tmp_path_factory.mktemp("malformed")
    (folder / "malformed.toml").write_text(MALFORMED, encoding="utf-8")
    cells: Dict[str, Cells] = {engine: {} for engine in ENGINES}
    for (_, case, _browser), row in run_rows([folder / "malformed.toml"], browsers).items():
        cells[row.engine][case] = row
    return cells


@pytest.mark.browser
@pytest.mark.parametrize("engine", ENGINES)
def test_a_nul_in_a_response_header_is_an_error_not_blocked(malformed_cells: Dict[str, Cells], engine: str) -> None:
    for case in ("NUL in a response header", "NUL in a response header, page not allowed"):
        row = malformed_cells[engine][case]
        assert ["X-Bad", "a\x00b"] in row.exchanges[0]["response_headers"], "the NUL went out as written"
        assert row.outcome == "error", (case, row.outcome, row.reason, row.console)
        assert row.reason == (
            "the server's response to GET /nul is not valid HTTP (header X-Bad holds a NUL): " + NOT_CORS
        )
        assert not row.matched and row.browser_reason is None
        assert row.model["prediction"] == "error" and "not valid HTTP (header X-Bad holds a NUL)" in row.model["rule"]
        if engine == "chromium":  # the browser's own word: an invalid response, and no CORS message at all
            assert "Failed to load resource: net::ERR_INVALID_HTTP_RESPONSE" in row.console, row.console
            assert not any("CORS" in message for message in row.console), row.console
    preflight = malformed_cells[engine]["NUL in the preflight response"]
    assert [e["kind"] for e in preflight.exchanges] == ["preflight"], "the actual request was never sent"
    assert preflight.outcome == "error" and preflight.reason == (
        "the server's preflight response to OPTIONS /preflight-nul is not valid HTTP (header X-Bad holds a NUL): "
        + NOT_CORS
    )
    assert preflight.model["prediction"] == "error"


@pytest.mark.browser
@pytest.mark.parametrize("engine", ENGINES)
def test_a_genuine_cors_refusal_next_to_it_stays_blocked(malformed_cells: Dict[str, Cells], engine: str) -> None:
    refused = malformed_cells[engine]["genuine refusal"]
    assert (refused.outcome, refused.reason, refused.matched) == ("blocked", None, True)
    assert refused.model["prediction"] == "blocked" and refused.agrees is True
    if engine == "chromium":
        assert any("blocked by CORS policy" in message for message in refused.console), refused.console
    # Control bytes other than NUL, CR and LF, and names that are not tokens, are tolerated by every engine: a refusal
    # of such a response is CORS's, and the same response to an allowed page is read.
    odd = malformed_cells[engine]["odd but tolerated headers, page not allowed"]
    assert ["X-Odd", "a\x01b"] in odd.exchanges[0]["response_headers"]
    assert (odd.outcome, odd.reason, odd.matched) == ("blocked", None, True)
    assert malformed_cells[engine]["odd but tolerated headers, allowed"].outcome == "allowed"


def _exchange(kind: str, headers: List[Tuple[str, str]], status: Optional[int] = 200) -> Exchange:
    return Exchange(
        kind, "OPTIONS" if kind == "preflight" else "GET", "/x", {"Origin": "http://app.localhost"}, status, headers
    )


def _threw(error: str = "TypeError: Failed to fetch") -> Dict[str, Any]:
    return {"outcome": "blocked", "status": None, "response_type": None, "error": error}


@pytest.mark.parametrize(
    "headers, outcome",
    [
        ([("X-Bad", "a\x00b")], "error"),
        ([("X-Bad", "a\rb")], "error"),
        ([("X-B\x00ad", "v")], "error"),
        ([("X-Bad", "a\x01b"), ("X Spaced", "v"), ("X-Esc", "\x1b[31m")], "blocked"),
        ([("Access-Control-Allow-Origin", "http://other.localhost")], "blocked"),
    ],
)
def test_classify_reads_the_recorded_response(headers: List[Tuple[str, str]], outcome: str) -> None:
    found, reason = classify(_threw(), [_exchange("request", headers)], None, True)
    assert found == outcome
    assert (reason is not None and reason.endswith(NOT_CORS)) == (outcome == "error")


def test_classify_names_the_preflight_and_leaves_other_outcomes_alone() -> None:
    bad = [("X-Bad", "\x00")]
    outcome, reason = classify(_threw(), [_exchange("preflight", bad)], None, True)
    assert outcome == "error" and reason.startswith("the server's preflight response to OPTIONS /x is not valid HTTP")
    # A browser that read it anyway (allowed), or handed the page an opaque response (no-cors), did not reject it.
    assert classify(
        {"outcome": "allowed", "status": 200, "response_type": "cors"}, [_exchange("request", bad)], None, True
    ) == ("allowed", None)
    opaque = {"outcome": "blocked", "status": 0, "response_type": "opaque", "error": "opaque response (opaque)"}
    assert classify(opaque, [_exchange("request", bad)], None, True) == ("blocked", None)
