"""What one measured case is: its outcome and the lab's reason, the browser's own reason, and the result row.

The rules that keep a CI failure honest live here: the lab's own failures and responses that are not valid HTTP
are `error`, never folded into `blocked`, which means a CORS refusal.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from .backend import Exchange
from .results import ResultRow
from .scenario.model import UNMEASURED, Case, Scenario, split_expectation
from .scenario.spaces import secure_context
from .standard import judge


def classify(
    result: Optional[Dict[str, Any]], exchanges: Sequence[Exchange], failure: Optional[str], backend_alive: bool
) -> Tuple[str, Optional[str]]:
    """Outcome and the lab's reason. The lab's own failures are `error`, never folded into `blocked`."""
    if failure is not None:
        return "error", failure
    broken = [e for e in exchanges if e.failure]
    if broken:
        return "error", f"the backend failed while answering {broken[0].method} {broken[0].path}: {broken[0].failure}"
    assert result is not None
    outcome = result["outcome"]
    if outcome == "blocked" and not exchanges and not backend_alive:
        return "error", "the backend server is not running"
    unanswered = [e for e in exchanges if e.status is None]
    if outcome == "blocked" and unanswered:
        return "error", (
            f"the server received {unanswered[0].method} {unanswered[0].path} and closed the connection without"
            " answering: a network failure, not a CORS refusal"
        )
    rejected = invalid_response(exchanges) if outcome == "blocked" and result.get("response_type") is None else None
    if rejected:
        return "error", rejected
    if outcome == "blocked" and not exchanges:
        return outcome, "no request reached the server: the browser refused before sending"
    return outcome, None


def invalid_response(exchanges: Sequence[Exchange]) -> Optional[str]:
    """Why a fetch that threw met a response that is not valid HTTP (a NUL, CR or LF in a header), or None.

    Browsers reject such a response as a network error before any CORS check (Chromium says
    net::ERR_INVALID_HTTP_RESPONSE), so the cell is the server's malformed answer, not a CORS refusal. An opaque
    response (no-cors) was not rejected, so it is not counted."""
    for exchange in exchanges:
        malformed = exchange.malformed()
        if malformed:
            which = "preflight response" if exchange.kind == "preflight" else "response"
            return (
                f"the server's {which} to {exchange.method} {exchange.path} is not valid HTTP ({malformed}):"
                " the browser rejected it as a network error, not a CORS refusal"
            )
    return None


def browser_reason(console: Sequence[str], silent: str = "") -> str:
    """The browser's own words for a refusal: Chromium's corsErrorStatus and CORS console messages, where told; else
    whatever the console said about the case (Firefox: "Security Error: ... may not load data from ...")."""
    said = [m for m in console if m.startswith("corsErrorStatus")] + [
        m for m in console if "CORS" in m and not m.startswith("corsErrorStatus")
    ]
    return "; ".join(said or console) or silent or "the browser gave no reason"


def cell_row(
    scenario: Scenario,
    backend: Any,
    urls: Dict[str, str],
    browser: str,
    engine: str,
    case: Case,
    spec: Dict[str, Any],
    result: Dict[str, Any],
    exchanges: Sequence[Exchange],
    outcome: str,
    reason: Optional[str],
    failure: Optional[str],
    attempts: List[Dict[str, Any]],
    duration_ms: float,
) -> ResultRow:
    """The cell: what was measured, judged against the scenario's expectation and the standard's model."""
    request = {
        "page_origin": urls[case.page],
        "url": spec["url"],
        "method": case.method,
        "headers": spec["headers"],
        "credentials": case.credentials,
        "mode": case.mode,
        "redirect": case.redirect,
        "sandboxed": case.sandboxed,
        "page": case.page,
    }
    local_network = local_network_of(scenario, case)
    if local_network is not None:
        request["local_network"] = dict(local_network)
        local_network["asked_private_network"] = any(
            name.lower() in PRIVATE_NETWORK_ASKS for e in exchanges for name in e.request_headers
        )
    recorded = [e.to_dict() for e in exchanges]
    judgement = judge(request, recorded)
    expected, app_error = split_expectation(scenario.expected(case, engine, backend.versions))
    cookies_sent = any("Cookie" in e.request_headers for e in exchanges)
    expected_cookies = case.cookies_expected_in(engine)
    # A bare "error" is no expectation (never met), and error / timeout never meet allowed or blocked.
    never = expectation_never_met(scenario, case, engine, backend.versions)
    matched = (
        never is None
        and outcome == expected
        and (app_error is None or (reason is not None and failure is None and app_error in reason))
        and (expected_cookies is None or cookies_sent == expected_cookies)
    )
    if never is not None:
        reason = never + (f"; {reason}" if reason else "")
    if outcome == expected and expected_cookies is not None and cookies_sent != expected_cookies:
        reason = reason or (
            f"a cookie {'was' if cookies_sent else 'was not'} sent, expected it "
            f"{'to be' if expected_cookies else 'not to be'}"
        )
    finding, accepted = credentialed_read(case, outcome)
    matched = matched and finding is None
    return ResultRow(
        scenario=scenario.id,
        group=scenario.group,
        case=case.name,
        browser=browser,
        engine=engine,
        outcome=outcome,
        expected=expected,
        matched=matched,
        pin=backend.label,
        status=result.get("status"),
        response_type=result.get("response_type"),
        preflight=any(e.kind == "preflight" for e in exchanges),
        preflights=sum(1 for e in exchanges if e.kind == "preflight"),
        cookies_sent=cookies_sent,
        expected_cookies_sent=expected_cookies,
        attempts=attempts if case.repeat > 1 else [],
        readable_headers=result.get("readable_headers"),
        read_headers=result.get("read_headers") or {},
        error=result.get("error"),
        reason=reason,
        exchanges=recorded,
        duration_ms=round(duration_ms, 2),
        request=request,
        model=judgement.to_dict(),
        agrees=judgement.prediction == outcome if outcome in ("allowed", "blocked") else None,
        attacker=case.attacker,
        finding=finding,
        accepted=accepted,
        local_network=local_network,
    )


PRIVATE_NETWORK_ASKS = ("access-control-request-private-network", "access-control-request-local-network")
"""The preflight headers of Private Network Access (Chromium before Local Network Access): whether any came."""


def local_network_of(scenario: Scenario, case: Case) -> Optional[Dict[str, Any]]:
    """For a local-network request: the page's and the server's address spaces, the page's permission, and whether
    the page is a secure context (what Local Network Access decides by); None for any other case."""
    if not scenario.local_network_request(case):
        return None
    page = scenario.origins[case.page]
    return {
        "page_space": page.space,
        "target_space": scenario.origins[case.target].space,
        "permission": case.local_network,
        "secure_page": secure_context(page.scheme, page.host),
    }


FINDING = "an attacker page reads a credentialed response"
NO_EXPECTATION = (
    'the case has no measured expectation (`expect = "error"`: it could not be measured when the file'
    " was written): re-scan or edit it"
)


def credentialed_read(case: Case, outcome: str) -> Tuple[Optional[str], Optional[str]]:
    """(finding, accepted) for a cell: an attacker's page that read a response sent with credentials is a finding,
    which fails the cell whatever the case expects, unless the case says why it is fine (`accepted`)."""
    if not (case.attacker and outcome == "allowed" and case.credentials == "include"):
        return None, None
    return (None, case.accepted) if case.accepted else (FINDING, None)


def expectation_never_met(scenario: Scenario, case: Case, engine: str, versions: Any) -> Optional[str]:
    """Why no measured cell can meet the expectation, or None. A bare `error` (written when the case could not be
    measured) says nothing about what the browser should do; a `start_error` pin expects the app not to start, and
    a cell was measured only because it did. `error: TEXT` (an expected app failure) is an expectation."""
    if scenario.backend.start_error_in(versions) is not None:
        return "the app was expected not to start under this pin (`start_error`), but it started"
    expected, app_error = split_expectation(case.expected_in(engine, versions))
    return NO_EXPECTATION if expected == UNMEASURED and app_error is None else None
