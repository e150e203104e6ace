"""The claims table: each claim from an article, and what the browsers and versions really showed.

A claim names the case that decides it and the outcome under which it holds.
Over every cell of that case (browsers x pins) the verdict is `confirmed` (it
held everywhere), `refuted` (nowhere), `depends` (in some browsers or pins; the
evidence says which) or `untested` (no cell ran, or only lab errors).
"""

from __future__ import annotations

from typing import Any, Dict, List

from .markdown import escape_cell, provenance


def _holds(claim: Dict[str, Any], row: Dict[str, Any]) -> bool:
    """Every condition the claim names holds in this cell: outcome, preflight count, a readable header."""
    if row["outcome"] != claim["holds_if"]:
        return False
    if claim.get("holds_if_preflights") is not None and row.get("preflights") != claim["holds_if_preflights"]:
        return False
    readable = claim.get("holds_if_readable")
    if readable and not any(
        k.lower() == readable.lower() and v is not None for k, v in (row.get("read_headers") or {}).items()
    ):
        return False
    return True


def condition(claim: Dict[str, Any]) -> str:
    parts = [claim["holds_if"]]
    if claim.get("holds_if_preflights") is not None:
        parts.append(f"{claim['holds_if_preflights']} preflight(s)")
    if claim.get("holds_if_readable"):
        parts.append(f"{claim['holds_if_readable']} readable")
    return " + ".join(parts)


def verdicts(document: Dict[str, Any]) -> List[Dict[str, Any]]:
    judged = []
    for claim in document.get("claims", []):
        rows = [
            r
            for r in document["results"]
            if r["scenario"] == claim["scenario"]
            and r["case"] == claim["case"]
            and r["outcome"] in ("allowed", "blocked")
        ]
        holding = [r for r in rows if _holds(claim, r)]
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
            outcomes.setdefault(row["outcome"], []).append(
                f"{row['browser']}" + (f" ({row['pin']})" if row.get("pin") else "")
            )
        if verdict == "depends":
            evidence = "; ".join(f"{outcome} in {', '.join(where)}" for outcome, where in sorted(outcomes.items()))
        else:
            evidence = f"{rows[0]['outcome']} in all {len(rows)} cells" if rows else "no cell"
            if rows and verdict == "refuted" and rows[0]["outcome"] == claim["holds_if"]:
                evidence += (
                    f", but not with {condition(claim)}: preflights {sorted({r.get('preflights') for r in rows})}"
                )
        judged.append({**claim, "verdict": verdict, "evidence": evidence, "cells": len(rows)})
    return judged


def claims_table(document: Dict[str, Any], command: str) -> str:
    """Markdown: claim, source, verdict, and the observed outcome behind it."""
    lines = [
        provenance(document, command),
        "",
        "| claim | source | verdict | tested by | observed |",
        "|---|---|---|---|---|",
    ]
    for item in verdicts(document):
        lines.append(
            f"| {escape_cell(item['text'])} | {escape_cell(item['source'])} | **{item['verdict']}** "
            f"| {escape_cell(item['scenario'])} :: {escape_cell(item['case'])} (holds if {escape_cell(condition(item))}) "
            f"| {escape_cell(item['evidence'])} |"
        )
    counts: Dict[str, int] = {}
    for item in verdicts(document):
        counts[item["verdict"]] = counts.get(item["verdict"], 0) + 1
    lines += ["", ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "no claims in these results"]
    return "\n".join(lines) + "\n"
