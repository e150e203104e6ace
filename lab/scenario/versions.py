"""Version conditions such as `flask-cors<6` or `flask>=2.3,flask<3`, for expectations that depend on a pin."""

from __future__ import annotations

import re
from typing import Mapping, Optional, Tuple

PACKAGES = ("flask", "flask-cors", "werkzeug", "python")
_TERM = re.compile(r"\s*(flask-cors|flask|werkzeug|python)\s*(<=|>=|==|!=|<|>)\s*(\d+(?:\.\d+)*)\s*")


def _numbers(version: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def _compare(left: Tuple[int, ...], operator: str, right: Tuple[int, ...]) -> bool:
    width = max(len(left), len(right))
    a, b = left + (0,) * (width - len(left)), right + (0,) * (width - len(right))
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[operator]


def problem(condition: str) -> Optional[str]:
    """Why a condition is malformed, or None."""
    for term in condition.split(","):
        if not _TERM.fullmatch(term):
            return (
                f'{term.strip()!r} is not a version condition such as "flask-cors<6" '
                f"(packages: {', '.join(PACKAGES)}; operators: < <= > >= == !=)"
            )
    return None


def holds(condition: str, versions: Mapping[str, str]) -> bool:
    """True when every comma-separated term holds for these installed versions."""
    for term in condition.split(","):
        match = _TERM.fullmatch(term)
        if match is None or match.group(1) not in versions:
            return False
        if not _compare(_numbers(versions[match.group(1)]), match.group(2), _numbers(match.group(3))):
            return False
    return True
