"""What a person sees on the terminal: a progress line while running, a summary table after.

Everything printed from a server or a browser goes through `clean()`, so that
header values cannot move the cursor, change colours or break the table.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple

from .browsers.base import BrowserInfo
from .report.cells import describe, group_cells
from .results import NOT_MEASURED, UNSUPPORTED, ResultRow, ResultsFile, failed, unsupported
from .routing import Asked
from .run import Sink

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
SYMBOLS = {
    "allowed": "allowed",
    "blocked": "blocked",
    "error": "ERROR",
    "timeout": "TIMEOUT",
    UNSUPPORTED: NOT_MEASURED,
}
SPREAD = ("allowed", "blocked", "error", "timeout", UNSUPPORTED)
"""The outcomes in the order the totals line counts them."""


def clean(text: object) -> str:
    """Printable text only: control characters (ANSI escapes included) become visible escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", str(text))


class _Style:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled else text


class Progress(Sink):
    """Streams rows into the results file and shows progress on a terminal."""

    def __init__(
        self, results: ResultsFile, total: int, stream: TextIO = sys.stderr, every_s: float = 5.0, judged: bool = True
    ) -> None:
        self.results = results
        self.total = total
        self.stream = stream
        self.interactive = stream.isatty()
        self.every_s = every_s  # when the output is not a terminal (nox, CI logs): a progress line this often
        self.judged = judged  # False while expectations are being measured (cors-lab scan): no "unexpected" count
        self.done = 0
        self.unexpected = 0
        self.started = time.perf_counter()
        self._last_line = self.started
        self._lock = threading.Lock()

    def _status(self, now: float) -> str:
        """`[done/total] elapsed, about N s left, K unexpected`: the rate so far says how long the rest takes."""
        elapsed = now - self.started
        left = ""
        if 0 < self.done < self.total:
            left = f", about {elapsed / self.done * (self.total - self.done):.0f}s left"
        return f"[{self.done}/{self.total}] {elapsed:5.1f}s{left}" + (
            f", {self.unexpected} unexpected" if self.judged else ""
        )

    def browser_ready(self, info: BrowserInfo) -> None:
        self.results.add_browser(info)
        with self._lock:
            self._clear()
            self.stream.write(
                f"{clean(info.name)}: {clean(info.product)} {clean(info.version)} via {clean(info.driver)}\n"
            )

    def routed(self, browser: str, asked: Sequence[Asked]) -> None:
        self.results.add_routing(browser, asked)

    def row(self, row: ResultRow) -> None:
        self.results.add(row)
        with self._lock:
            self.done += 1
            self.unexpected += failed(row)
            now = time.perf_counter()
            if self.interactive:
                self._clear()
                line = f"{self._status(now)}  {row.browser}: {row.scenario} :: {row.case}"
                self.stream.write(clean(line)[:120])
                self.stream.flush()
            elif now - self._last_line >= self.every_s or self.done == self.total:
                self._last_line = now
                self.stream.write(clean(self._status(now)) + "\n")
                self.stream.flush()

    def _clear(self) -> None:
        if self.interactive:
            self.stream.write("\r\x1b[2K")

    def close(self) -> None:
        with self._lock:
            self._clear()
            self.stream.flush()


def summary(rows: Sequence[Dict[str, Any]], browsers: Sequence[str], color: bool) -> str:
    """Cases grouped under their scenario, one column per browser; a cell tells where pins disagree."""
    style = _Style(color)
    cells = group_cells(rows)
    width = min(max([len(case) + 2 for _, case in cells] + [6]), 72) + 2
    column = 24  # fits "allowed (want blocked)" with a gap
    colors = {"allowed": "32", "blocked": "33", "error": "31;1", "timeout": "31;1", UNSUPPORTED: "2"}
    lines = [style("case".ljust(width) + "".join(b.ljust(column) for b in browsers).rstrip(), "1")]
    notes: List[str] = []
    current = None
    for (scenario, case), by_browser in sorted(cells.items()):
        if scenario != current:
            lines.append(style(clean(scenario), "1"))
            current = scenario
        name = clean(case)
        name = "  " + (name if len(name) <= width - 4 else name[: width - 5] + "…")
        line = name.ljust(width)
        for browser in browsers:
            mine = by_browser.get(browser, [])
            text, differs = describe(mine)
            unexpected = [r for r in mine if failed(r)]
            if differs:
                notes.append(clean(f"  {scenario} :: {case} [{browser}]: {text}"))
                text = text.split(";")[0] + "*"
            text = SYMBOLS.get(text, text) if not differs else text
            if unexpected and all(r.get("finding") for r in unexpected):
                text += " FINDING" if len(mine) == 1 else f" ({len(unexpected)} findings)"
            elif unexpected:
                text += f" (want {unexpected[0]['expected']})" if len(mine) == 1 else f" ({len(unexpected)} unexpected)"
            padded = text.ljust(column)
            if mine:
                outcome = mine[0]["outcome"]
                padded = style(padded, "41;97" if unexpected else colors[outcome])
            line += padded
        lines.append(line.rstrip())
    if notes:
        lines += ["", "* the pins disagree:"] + notes
    return "\n".join(lines)


def totals(rows: Sequence[Dict[str, Any]], seconds: float) -> str:
    """The cells by outcome, how many were as expected, unexpected, findings (counted apart from the unexpected ones)
    and accepted credentialed reads, the model's agreement and the servers' load; then, on a line of its own, the
    cells not measured because their browser cannot do what the case needs (neither as expected nor unexpected)."""
    found = [r for r in rows if r.get("finding")]
    unexpected = [r for r in rows if failed(r) and not r.get("finding")]
    skipped = [r for r in rows if unsupported(r)]
    accepted = sum(1 for r in rows if r.get("accepted"))
    counts: Dict[str, int] = {}
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    spread = ", ".join(f"{counts[k]} {k}" for k in SPREAD if k in counts)
    from .explain import agreement

    model = agreement(rows)
    agrees = ("; the standard's model agrees with " + ", ".join(f"{b} {v}" for b, v in model.items())) if model else ""
    seen, answered = server_load(rows)
    load = f"; servers answered {answered} of {seen} requests" if seen else ""
    found_text = f", {len(found)} finding{'' if len(found) == 1 else 's'}" if found else ""
    accepted_text = (
        f", {accepted} accepted credentialed read{'' if accepted == 1 else 's'} by attacker pages" if accepted else ""
    )
    line = (
        f"{len(rows)} cells ({spread}) in {seconds:.1f}s: "
        f"{len(rows) - len(unexpected) - len(found) - len(skipped)} as expected, {len(unexpected)} unexpected"
        f"{found_text}{accepted_text}{agrees}{load}"
    )
    return "\n".join([line] + not_measurable(rows))


def not_measurable(rows: Sequence[Dict[str, Any]]) -> List[str]:
    """`N cells not measurable here (unsupported): REASON; REASON`, each distinct reason once, or nothing."""
    skipped = [r for r in rows if unsupported(r)]
    if not skipped:
        return []
    reasons = list(dict.fromkeys(str(r.get("reason") or "no reason given") for r in skipped))
    return [
        clean(
            f"{len(skipped)} cell{'' if len(skipped) == 1 else 's'} not measurable here ({UNSUPPORTED}): "
            + "; ".join(reasons)
        )
    ]


def server_load(rows: Sequence[Dict[str, Any]]) -> Tuple[int, int]:
    """Requests the lab's servers received, and how many they answered (a hang or a reset is on purpose)."""
    exchanges = [e for row in rows for e in row["exchanges"]]
    return len(exchanges), sum(1 for e in exchanges if e["status"] is not None)


def findings(rows: Sequence[Dict[str, Any]], limit: int = 20) -> List[str]:
    """The findings, apart from the other unexpected cells: what the configuration allows (once per app and rule,
    lab/findings.py), then each cell in which an attacker page read a credentialed response."""
    from .findings import config_findings, route_of

    found = [r for r in rows if r.get("finding")]
    if not found:
        return []
    lines = [f"{len(found)} finding{'' if len(found) == 1 else 's'}: attacker pages read credentialed responses"]
    for config in config_findings(rows):
        lines.append(
            clean(f"  {config.scenario}: {config.message}: {', '.join(config.routes)} ({', '.join(config.browsers)})")
        )
    cells = [
        clean(
            f"  {r['browser']}: {r['scenario']} :: {r['case']}: {_reader(r.get('request') or {})}"
            f" read {route_of(r)} with credentials (expected {r['expected']})"
        )
        for r in found
    ]
    return lines + cells[:limit] + ([f"  ... and {len(cells) - limit} more"] if len(cells) > limit else [])


def _reader(request: Dict[str, Any]) -> str:
    """Who read the response: the page's origin, or a sandboxed frame on it (whose requests say `Origin: null`)."""
    page = request.get("page_origin", "?")
    return f"a sandboxed frame (Origin: null) on {page}" if request.get("sandboxed") else page


def mismatches(rows: Sequence[Dict[str, Any]], limit: int = 20) -> List[str]:
    """The findings first, then a short explanation per other unexpected cell; cells that failed for one shared
    reason are told once."""
    lines: List[str] = []
    shared: Dict[Tuple[str, str], List[Dict[str, Any]]] = {}
    others = [r for r in rows if failed(r) and not r.get("finding")]
    for row in others:
        if row["reason"]:
            shared.setdefault((row["browser"], row["reason"]), []).append(row)
    told = set()
    for row in others:
        group = shared.get((row["browser"], row["reason"] or ""), [])
        if len(group) > 1:
            if (row["browser"], row["reason"]) not in told:
                told.add((row["browser"], row["reason"]))
                lines.append(clean(f"  {row['browser']}: {len(group)} cells: {row['outcome']}: {row['reason']}"))
            continue
        detail = row["reason"] or (row["console"][0] if row["console"] else row["error"]) or ""
        lines.append(
            clean(
                f"  {row['browser']}: {row['scenario']} :: {row['case']}: {row['outcome']}, expected {row['expected']}"
                + (f" ({detail})" if detail else "")
            )
        )
    found = findings(rows, limit)
    if found and lines:
        found.append(f"{len(others)} other unexpected cell{'' if len(others) == 1 else 's'}:")
    return found + lines[:limit] + ([f"  ... and {len(lines) - limit} more"] if len(lines) > limit else [])


def is_color(stream: Optional[TextIO]) -> bool:
    return bool(stream is not None and stream.isatty())
