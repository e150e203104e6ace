"""The Fetch-standard model on its own: exchanges as the recorder writes them, one rule at a time."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest

from lab.standard import judge, malformed_header, request_header_problem, unsafe_request_headers

APP, API, OTHER = "http://app.localhost:1000", "http://api.localhost:2000", "http://other.localhost:3000"


def request(
    method: str = "GET",
    headers: Optional[Dict[str, str]] = None,
    credentials: str = "same-origin",
    mode: str = "cors",
    redirect: str = "follow",
    url: str = API + "/x?cors_lab=t",
) -> Dict[str, Any]:
    return {
        "page_origin": APP,
        "url": url,
        "method": method,
        "headers": headers or {},
        "credentials": credentials,
        "mode": mode,
        "redirect": redirect,
        "sandboxed": False,
    }


def answer(
    kind: str, status: Optional[int], *headers: List[str], method: str = "GET", path: str = "/x"
) -> Dict[str, Any]:
    return {
        "kind": kind,
        "method": method,
        "path": path,
        "request_headers": {},
        "status": status,
        "response_headers": [list(h) for h in headers],
    }


def test_the_cors_check_on_the_response() -> None:
    assert judge(request(), [answer("request", 200, ["Access-Control-Allow-Origin", APP])]).prediction == "allowed"
    missing = judge(request(), [answer("request", 200)])
    assert (missing.prediction, missing.rule) == ("blocked", "the response has no Access-Control-Allow-Origin header")
    assert "add it to flask-cors `origins`" in missing.fix
    assert judge(request(), [answer("request", 200, ["Access-Control-Allow-Origin", "*"])]).prediction == "allowed"
    star = judge(request(credentials="include"), [answer("request", 200, ["Access-Control-Allow-Origin", "*"])])
    assert star.prediction == "blocked" and "never allows a request with credentials" in star.rule
    wrong = judge(request(), [answer("request", 200, ["Access-Control-Allow-Origin", APP + "/"])])
    assert wrong.prediction == "blocked" and "not the page's origin" in wrong.rule
    twice = judge(
        request(), [answer("request", 200, ["Access-Control-Allow-Origin", APP], ["Access-Control-Allow-Origin", "*"])]
    )
    assert (
        twice.prediction == "blocked"
        and "several Access-Control-Allow-Origin values" in twice.rule
        and "proxy" in twice.fix
    )


@pytest.mark.parametrize("value, expected", [("true", "allowed"), ("TRUE", "blocked"), (None, "blocked")])
def test_credentials_need_allow_credentials_exactly_true(value: Optional[str], expected: str) -> None:
    headers = [["Access-Control-Allow-Origin", APP]] + ([["Access-Control-Allow-Credentials", value]] if value else [])
    judged = judge(request(credentials="include"), [answer("request", 200, *headers)])
    assert judged.prediction == expected
    if expected == "blocked":
        assert "supports_credentials=True" in judged.fix


def test_preflight_status_methods_and_headers() -> None:
    put = request("PUT", {"Content-Type": "application/json", "Authorization": "Bearer t"})
    good = [
        ["Access-Control-Allow-Origin", APP],
        ["Access-Control-Allow-Methods", "PUT"],
        ["Access-Control-Allow-Headers", "Content-Type, Authorization"],
    ]
    actual = answer("request", 200, ["Access-Control-Allow-Origin", APP], method="PUT")
    assert judge(put, [answer("preflight", 204, *good, method="OPTIONS"), actual]).prediction == "allowed"
    not_ok = judge(put, [answer("preflight", 405, *good, method="OPTIONS")])
    assert not_ok.rule == "the preflight was answered 405, not an ok status (200-299)"
    no_put = judge(
        put,
        [answer("preflight", 200, good[0], ["Access-Control-Allow-Methods", "GET, POST"], good[2], method="OPTIONS")],
    )
    assert "PUT is not allowed" in no_put.rule and no_put.fix == "add PUT to flask-cors `methods`"
    no_auth = judge(
        put,
        [
            answer(
                "preflight", 200, good[0], good[1], ["Access-Control-Allow-Headers", "content-type"], method="OPTIONS"
            )
        ],
    )
    assert (
        no_auth.rule.endswith("does not list authorization")
        and no_auth.fix == "add authorization to flask-cors `allow_headers`"
    )


def test_wildcards_in_a_preflight() -> None:
    custom = request("PUT", {"X-Custom": "1"})
    star = [
        ["Access-Control-Allow-Origin", APP],
        ["Access-Control-Allow-Methods", "*"],
        ["Access-Control-Allow-Headers", "*"],
    ]
    actual = answer("request", 200, ["Access-Control-Allow-Origin", APP], method="PUT")
    assert judge(custom, [answer("preflight", 200, *star, method="OPTIONS"), actual]).prediction == "allowed"
    credentialed = request("PUT", {"X-Custom": "1"}, credentials="include")
    starred = judge(
        credentialed, [answer("preflight", 200, *star, ["Access-Control-Allow-Credentials", "true"], method="OPTIONS")]
    )
    assert starred.prediction == "blocked" and "does not count when the request has credentials" in starred.rule
    authorization = judge(request("GET", {"Authorization": "x"}), [answer("preflight", 200, *star, method="OPTIONS")])
    assert authorization.prediction == "blocked" and "never covers authorization" in authorization.rule


def test_redirects_taint_the_origin_and_303_becomes_get() -> None:
    hop = answer("request", 302, ["Access-Control-Allow-Origin", APP], ["Location", OTHER + "/y"])
    to_page_origin = answer("request", 200, ["Access-Control-Allow-Origin", APP], path="/y")
    judged = judge(request(), [hop, to_page_origin])
    assert judged.prediction == "blocked" and "not the page's origin 'null'" in judged.rule
    to_null = answer("request", 200, ["Access-Control-Allow-Origin", "null"], path="/y")
    assert judge(request(), [hop, to_null]).prediction == "allowed"
    assert judge(request(redirect="error"), [hop]).prediction == "blocked"
    assert judge(request(redirect="manual"), [hop]).rule.startswith("redirect mode 'manual'")
    bare = answer("request", 302, ["Location", OTHER + "/y"])
    assert "redirect response has no Access-Control-Allow-Origin" in judge(request(), [bare]).rule
    see_other = answer("request", 303, ["Access-Control-Allow-Origin", APP], ["Location", API + "/z"], method="PUT")
    final = answer("request", 200, ["Access-Control-Allow-Origin", APP], path="/z")
    preflight = answer(
        "preflight",
        200,
        ["Access-Control-Allow-Origin", APP],
        ["Access-Control-Allow-Methods", "PUT"],
        ["Access-Control-Allow-Headers", "content-type"],
        method="OPTIONS",
    )
    assert (
        judge(request("PUT", {"Content-Type": "application/json"}), [preflight, see_other, final]).prediction
        == "allowed"
    )


def test_modes_and_requests_that_never_left() -> None:
    assert judge(request(mode="no-cors"), [answer("request", 200)]).rule.startswith("mode 'no-cors' gives an opaque")
    assert judge(request("PUT", mode="no-cors"), []).rule.startswith("mode 'no-cors' allows only GET")
    assert judge(request(mode="same-origin"), []).rule == "mode 'same-origin' refuses a cross-origin URL"
    same = request(url=APP + "/x?cors_lab=t")
    assert judge(same, [answer("request", 200)]).prediction == "allowed"
    assert judge(request(), []).rule.startswith("the browser refused before sending anything")
    assert judge(request(), [answer("request", None)]).rule == "the server never answered (a hung route)"
    crashed = dict(answer("request", None), failure="error: nothing to repeat at position 0")
    judgement = judge(request(), [crashed])
    assert (
        judgement.prediction == "blocked"
        and "the app failed" in judgement.rule
        and "nothing to repeat" in judgement.rule
    )


def test_safelisted_request_headers() -> None:
    assert unsafe_request_headers({"Content-Type": "text/plain;charset=utf-8", "Accept": "x"}) == []
    assert unsafe_request_headers({"Content-Type": "application/json", "X-API-Key": "k"}) == [
        "content-type",
        "x-api-key",
    ]
    assert unsafe_request_headers({"Accept-Language": "x" * 129}) == ["accept-language"]


def test_a_response_that_is_not_valid_http_is_a_network_error_before_any_cors_check() -> None:
    allowed = ["Access-Control-Allow-Origin", APP]
    nul = judge(request(), [answer("request", 200, allowed, ["X-Bad", "a\x00b"])])
    assert nul.prediction == "error"
    assert (
        nul.rule == "the response is not valid HTTP (header X-Bad holds a NUL): a network error, before any CORS check"
    )
    # Not a CORS refusal even where the CORS check would fail too, nor an opaque response in mode no-cors.
    assert judge(request(), [answer("request", 200, ["X-Bad", "\x00"])]).prediction == "error"
    assert judge(request(mode="no-cors"), [answer("request", 200, ["X-Bad", "\x00"])]).prediction == "error"
    preflight = judge(request("PUT"), [answer("preflight", 204, allowed, ["X-Bad", "\x00"], method="OPTIONS")])
    assert preflight.prediction == "error" and preflight.rule.startswith("the preflight response is not valid HTTP")
    # What every engine tolerates stays a matter for the CORS check.
    tolerated = [["X-Ctl", "a\x01b"], ["X Spaced", "v"], ["X-Esc", "\x1b[31m"]]
    assert judge(request(), [answer("request", 200, allowed, *tolerated)]).prediction == "allowed"
    assert judge(request(), [answer("request", 200, *tolerated)]).prediction == "blocked"


@pytest.mark.parametrize(
    "headers, found",
    [
        ([("X-Bad", "a\x00b")], "header X-Bad holds a NUL"),
        ([("X-Bad", "a\r")], "header X-Bad holds a CR"),
        ([("X-Ok", "1"), ("X-Bad", "\nb")], "header X-Bad holds an LF"),
        ([("X-B\x00ad", "v")], "header name 'X-B\\x00ad' holds a NUL"),
        ([("X Spaced", "\x00")], "header 'X Spaced' holds a NUL"),
        ([("X Spaced", "v"), ("", "v"), ("X-Ctl", "\x01\x7f")], None),
    ],
)
def test_malformed_header(headers: list, found: Optional[str]) -> None:
    assert malformed_header(headers) == found


@pytest.mark.parametrize(
    "name, value, problem",
    [
        ("X-Key", "k", None),
        ("Content-Type", "application/json", None),
        ("X-Latin", "\u00e9", None),
        ("X-Method-Override", "PUT", None),
        (
            "X-Key",
            "a\r\nb",
            "request header X-Key holds a CR: a header value cannot contain NUL, CR or LF, so fetch() throws"
            " before sending anything",
        ),
        (
            "X-Key",
            "\x00",
            "request header X-Key holds a NUL: a header value cannot contain NUL, CR or LF, so fetch() throws"
            " before sending anything",
        ),
        (
            "X-Key",
            "a\n",
            "request header X-Key = 'a\\n': fetch() trims leading and trailing whitespace and sends 'a'; write that",
        ),
        (
            "X-Key",
            " a\t",
            "request header X-Key = ' a\\t': fetch() trims leading and trailing whitespace and sends 'a'; write that",
        ),
        (
            "X-Key",
            "\u20ac",
            "request header X-Key holds '\u20ac' (U+20AC): header values are bytes (U+0000 to U+00FF), so fetch()"
            " throws before sending anything",
        ),
        (
            "X Key",
            "k",
            "request header name 'X Key' is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~ only): fetch()"
            " throws before sending anything",
        ),
        (
            "",
            "k",
            "request header name '' is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~ only): fetch() throws"
            " before sending anything",
        ),
        (
            "x-http-method-override",
            "GET, Track",
            "request header x-http-method-override names the forbidden method Track:"
            " fetch() silently drops the header, so it is never sent",
        ),
    ],
)
def test_request_header_problem(name: str, value: str, problem: Optional[str]) -> None:
    assert request_header_problem(name, value) == problem


@pytest.mark.parametrize(
    "name",
    [
        "Cookie",
        "cookie",
        "Origin",
        "Referer",
        "Host",
        "Content-Length",
        "Set-Cookie",
        "DNT",
        "Access-Control-Request-Headers",
        "Sec-Fetch-Site",
        "Proxy-Authorization",
        "Keep-Alive",
    ],
)
def test_forbidden_request_headers_are_never_sent_as_written(name: str) -> None:
    problem = request_header_problem(name, "1")
    assert problem is not None and problem.startswith(
        f"{name} is a forbidden request header: the browser alone sets it and"
        " fetch() silently drops it, so it is never sent as written"
    )
