"""The claims table: each claim from an article, and what the browsers and versions really showed.

A claim names the case that decides it and the outcome under which it holds.
Over every cell of that case (browsers x pins) the verdict is `confirmed` (it
held everywhere), `refuted` (nowhere), `depends` (in some browsers or pins; the
evidence says which) or `untested` (no cell ran, or only lab errors).
"""

from __future__ import annotations

from typing import Any, Dict, List

from .markdown import escape_cell, provenance


def verdicts(document: Dict[str, Any]) -> List[Dict[str, Any]]:
    judged = []
    for claim in document.get("claims", []):
        rows = [r for r in document["results"] if r["scenario"] == claim["scenario"] and r["case"] == claim["case"]
                and r["outcome"] in ("allowed", "blocked")]
        holding = [r for r in rows if r["outcome"] == claim["holds_if"]]
        if not rows:
            verdict = "untested"
        elif len(holding) == len(rows):
            verdict = "confirmed"
        elif not holding:
            verdict = "refuted"
        else:
            verdict = "depends"
        outcomes: Dict[str, List[str]] = {}
        for row in rows:
            outcomes.setdefault(row["outcome"], []).append(f"{row['browser']}" + (f" ({row['pin']})" if row.get("pin") else ""))
        if verdict == "depends":
            evidence = "; ".join(f"{outcome} in {', '.join(where)}" for outcome, where in sorted(outcomes.items()))
        else:
            evidence = f"{rows[0]['outcome']} in all {len(rows)} cells" if rows else "no cell"
        judged.append({**claim, "verdict": verdict, "evidence": evidence, "cells": len(rows)})
    return judged


def claims_table(document: Dict[str, Any], command: str) -> str:
    """Markdown: claim, source, verdict, and the observed outcome behind it."""
    lines = [provenance(document, command), "",
             "| claim | source | verdict | tested by | observed |", "|---|---|---|---|---|"]
    for item in verdicts(document):
        lines.append(f"| {escape_cell(item['text'])} | {escape_cell(item['source'])} | **{item['verdict']}** "
                     f"| {escape_cell(item['scenario'])} :: {escape_cell(item['case'])} (holds if {item['holds_if']}) "
                     f"| {escape_cell(item['evidence'])} |")
    counts: Dict[str, int] = {}
    for item in verdicts(document):
        counts[item["verdict"]] = counts.get(item["verdict"], 0) + 1
    lines += ["", ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "no claims in these results"]
    return "\n".join(lines) + "\n"
