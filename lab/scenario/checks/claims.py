"""`[[claims]]`: what a document says the library does, tied to the case whose outcome proves or refutes it."""

from __future__ import annotations

from typing import Any, Sequence, Tuple

from ..locate import KeyPath
from ..model import EXPECTABLE, Case, Claim
from .checker import Checker


def read_claims(check: Checker, raw: Any, cases: Sequence[Case]) -> Tuple[Claim, ...]:
    """Each claim names a case of this file, and a header it holds readable must be one the case reads."""
    case_names = [c.name for c in cases]
    claims = []
    for i, item in enumerate(check.array_of_tables(raw, ("claims",), "claims")):
        at: KeyPath = ("claims", i)
        table = check.table(
            item,
            at,
            ("text", "source", "case", "holds_if", "holds_if_preflights", "holds_if_readable"),
            required=("text", "case", "holds_if"),
        )
        case = check.get(table, "case", at, str, "")
        if case and case not in case_names:
            check.fail(at + ("case",), f"claim refers to case {case!r}, which this file does not declare")
        readable = table.get("holds_if_readable")
        if (
            isinstance(readable, str)
            and case in case_names
            and readable.lower() not in (h.lower() for h in cases[case_names.index(case)].read_headers)
        ):
            check.fail(
                at + ("holds_if_readable",), f"holds_if_readable {readable!r} must be one of the case's read_headers"
            )
        claims.append(
            Claim(
                text=check.get(table, "text", at, str, ""),
                source=check.get(table, "source", at, str, ""),
                case=case,
                holds_if=check.get(table, "holds_if", at, str, "allowed", EXPECTABLE),
                holds_if_preflights=check.get(table, "holds_if_preflights", at, int),
                holds_if_readable=check.get(table, "holds_if_readable", at, str),
            )
        )
    return tuple(claims)
