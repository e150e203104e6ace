"""`cors-lab diff OLD NEW --html FILE`: the upgrade diff as a page people can read and attach to a pull request.

Self-contained (no scripts, no external files); every value that came from a server
or a browser is escaped, so a hostile header stays text.
"""

from __future__ import annotations

from html import escape
from typing import List

from .cells import evidence
from .diff import Comparison

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1d2330; }
h1 { font-size: 20px; margin: 0 0 4px; } p.meta { color: #555; margin: 0 0 16px; }
table { border-collapse: collapse; width: 100%; } th, td { border-top: 1px solid #dde1e7; padding: 6px 8px; vertical-align: top; text-align: left; }
th { background: #f3f5f8; } td.ev { font: 12px/1.4 ui-monospace, monospace; white-space: pre-wrap; }
.allowed { color: #1f7a3f; font-weight: 700; } .blocked { color: #a86b00; font-weight: 700; }
.error, .timeout { color: #b02a2a; font-weight: 700; } .warn { color: #b02a2a; } pre { background: #f6f7f9; padding: 8px; }
"""


def diff_html(comparison: Comparison, coverage: List[str], old_name: str, new_name: str) -> str:
    """The changed cells side by side (outcome and the CORS headers the server sent, before and after)."""
    rows = []
    for change in comparison.changes:
        scenario, case, browser, pin = change.key
        rows.append(
            "<tr>"
            f"<td>{escape(scenario)}<br>{escape(case)}</td><td>{escape(browser)}{('<br>' + escape(pin)) if pin else ''}</td>"
            f"<td class='ev'><span class='{escape(change.old['outcome'])}'>{escape(change.old['outcome'])}</span>\n"
            f"{escape(chr(10).join(evidence(change.old)))}</td>"
            f"<td class='ev'><span class='{escape(change.new['outcome'])}'>{escape(change.new['outcome'])}</span>"
            f"{' <span class=warn>FINDING</span>' if change.new.get('finding') else ''}\n"
            f"{escape(chr(10).join(evidence(change.new)))}</td></tr>"
        )
    summary = comparison.summary()
    table = (
        (
            "<table><thead><tr><th>scenario / case</th><th>browser</th><th>before</th><th>after</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
        if rows
        else "<p>No cell changed.</p>"
    )
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>cors-lab upgrade diff</title>"
        f"<style>{STYLE}</style></head><body><h1>What changed: {escape(comparison.across)}</h1>"
        f"<p class='meta'>{escape(old_name)} → {escape(new_name)}</p>"
        + "".join(
            f"<p class='{'warn' if line.startswith(('NOT MEASURED', 'FINDINGS')) else 'meta'}'>{escape(line)}</p>"
            for line in summary
        )
        + table
        + (f"<h2>Known changes in between</h2><pre>{escape(chr(10).join(coverage))}</pre>" if coverage else "")
        + "</body></html>\n"
    )
