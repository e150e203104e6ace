"""`cors-lab explain SCENARIO[:CASE]`: the story of one case in every browser.

For each browser: the request the page made, the requests and responses the
server exchanged in order (preflight, actual, redirects), what the browser did and
said, what the Fetch standard says (lab/standard.py) and what to change.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

from .results import unsupported

RELEVANT_REQUEST = (
    "origin",
    "access-control-request-method",
    "access-control-request-headers",
    "cookie",
    "authorization",
    "content-type",
)
RELEVANT_RESPONSE = ("access-control-", "vary", "location", "set-cookie")


def _request_line(request: Dict[str, Any]) -> str:
    extras = [
        f"credentials {request.get('credentials')}",
        f"mode {request.get('mode')}",
        f"redirect {request.get('redirect')}",
    ]
    if request.get("sandboxed"):
        extras.append("from a sandboxed iframe (Origin: null)")
    headers = ", ".join(f"{k}: {v}" for k, v in (request.get("headers") or {}).items())
    return (
        f"page {request.get('page_origin')} fetches {request.get('method')} {request.get('url', '').split('?cors_lab=')[0]}"
        + (f" with {headers}" if headers else "")
        + f" ({'; '.join(extras)})"
    )


def _exchange_lines(number: int, exchange: Dict[str, Any]) -> List[str]:
    status = exchange.get("status")
    lines = [
        f"{number}. {exchange['kind']}: {exchange['method']} {exchange['path']} -> {status if status is not None else 'no answer'}"
    ]
    sent = [f"{k}: {v}" for k, v in exchange.get("request_headers", {}).items() if k.lower() in RELEVANT_REQUEST]
    got = [f"{k}: {v}" for k, v in exchange.get("response_headers", []) if k.lower().startswith(RELEVANT_RESPONSE)]
    lines.append("     server saw:  " + ("; ".join(sent) or "(no CORS-relevant headers)"))
    lines.append("     server sent: " + ("; ".join(got) or "(no CORS headers)"))
    return lines


def story(rows: Sequence[Dict[str, Any]]) -> List[str]:
    """Lines telling one case's story over its rows (one per browser, and per pin when several)."""
    if not rows:
        return []
    first = rows[0]
    lines = [f"{first['scenario']} :: {first['case']}"]
    if first.get("request"):
        lines.append("  " + _request_line(first["request"]))
    for row in rows:
        where = row["browser"] + (f" ({row['pin']})" if row.get("pin") else "")
        if unsupported(row):  # nothing was run, so there is nothing to tell but why: no verdict either way
            lines.append(
                f"  {where}: NOT MEASURED (no verdict): {row['browser']} cannot run this case here:"
                f" {row.get('reason') or 'the engine cannot be told what the case needs'}"
            )
            continue
        lines.append(
            f"  {where}: {row['outcome'].upper()} ({_verdict(row)})"
            + (f", status {row['status']}" if row.get("status") else "")
        )
        if row.get("local_network"):
            lines.append("    " + _space_line(row["local_network"]))
        if row.get("finding"):
            lines.append(f"    FINDING: {row['finding']}")
        elif row.get("accepted"):
            lines.append(f"    accepted: {row['accepted']}")
        for number, exchange in enumerate(row.get("exchanges", []), start=1):
            lines += ["    " + line for line in _exchange_lines(number, exchange)]
        if not row.get("exchanges"):
            lines.append("    no request reached the server")
        if row.get("reason"):
            lines.append(f"    lab:            {row['reason']}")
        if row["outcome"] == "blocked":
            lines.append(f"    browser says:   {row.get('browser_reason') or row.get('error') or 'nothing'}")
            if row.get("error") and row.get("browser_reason") != row.get("error"):
                lines.append(f"    page saw:       {row['error']}")
        model = row.get("model")
        if model:
            agreement = (
                "" if row.get("agrees") in (True, None) else "   <-- the browser disagrees with the standard's model"
            )
            lines.append(f"    standard says:  {model['prediction']}: {model['rule']}{agreement}")
        lines += _advice(row)
    return lines


def _space_line(space: Dict[str, Any]) -> str:
    """Where the page and the server live as the browser was told, the page's permission, and what was asked."""
    asked = space.get("asked_private_network")
    preflight = "" if asked is None else f"; Access-Control-Request-Private-Network sent: {'yes' if asked else 'no'}"
    secure = "" if space.get("secure_page", True) else " (not a secure context)"
    return (
        f"local network:  a {space['page_space']} page{secure} -> a {space['target_space']} server;"
        f" local-network permission: {space['permission']}{preflight}"
    )


def _verdict(row: Dict[str, Any]) -> str:
    """ "as expected" only for an outcome its expectation names: a bare `error` is none, and a finding fails a cell
    that is otherwise as expected (said on its own line)."""
    if row["expected"] == "error" and not row["matched"] and "no measured expectation" in (row.get("reason") or ""):
        return "no measured expectation"
    if unsupported(row):
        return "not measured in this browser"
    if row["matched"] or (row.get("finding") and row["outcome"] == row["expected"]):
        return "as expected"
    return f"expected {row['expected']}"


def _advice(row: Dict[str, Any]) -> List[str]:
    """What to change, only where the cell is not what the scenario expects: a refusal that should be allowed gets
    the way to allow it; a read that should be refused (an attacker's) gets the way to close it, never to open more."""
    model = row.get("model") or {}
    if row.get("local_network") and row["outcome"] == "blocked" and model.get("fix") and not row.get("attacker"):
        return [f"    to allow it:     {model['fix']}"]  # what a refused local-network request takes, wanted or not
    if row["matched"] or row["outcome"] not in ("allowed", "blocked"):
        return []
    if row["outcome"] == "blocked":
        return [f"    to allow it:     {model['fix']}"] if model.get("fix") else []
    allowed_by = [
        v
        for e in row.get("exchanges", [])
        for k, v in e.get("response_headers", [])
        if k.lower() == "access-control-allow-origin"
    ]
    origin = (row.get("request") or {}).get("page_origin", "this page's origin")
    said = f" (the server answered Access-Control-Allow-Origin: {allowed_by[-1]})" if allowed_by else ""
    return [
        f"    to close it:     the page at {origin} should not read this{said}: list only the origins you trust in"
        " flask-cors `origins`, and write any regex anchored and escaped (^https://app\\.example\\.com$)"
    ]


def agreement(rows: Sequence[Dict[str, Any]]) -> Dict[str, str]:
    """Per browser: how often the model predicts the browser's outcome (cells that ended in allowed / blocked)."""
    counts: Dict[str, List[int]] = {}
    for row in rows:
        if row.get("agrees") is None:
            continue
        tally = counts.setdefault(row["browser"], [0, 0])
        tally[0] += bool(row["agrees"])
        tally[1] += 1
    return {
        browser: f"{agree}/{total} ({100 * agree / total:.1f}%)" for browser, (agree, total) in sorted(counts.items())
    }
