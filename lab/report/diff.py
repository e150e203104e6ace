"""`cors-lab diff OLD NEW`: the cells whose outcome changed between two results files.

When each file holds a single pin (the upgrade check: same Flask, two flask-cors
releases), cells are matched by (scenario, case, browser); otherwise the pin is
part of the key too, so merged matrix reports compare pin by pin.

A cell that is `unsupported` on either side (not run: that browser cannot be told
what the case needs) is not comparable: it is listed as such, never as a changed
outcome, and never fails the diff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ..results import unsupported
from .cells import evidence, pins_of

Key = Tuple[str, str, str, Optional[str]]


@dataclass
class Change:
    key: Key
    old: Dict[str, Any]
    new: Dict[str, Any]

    def lines(self) -> List[str]:
        lines = [
            f"CHANGED {_where(self.key)}: {self.old['outcome']} -> {self.new['outcome']}"
            + _finding_change(self.old, self.new)
        ]
        lines += [f"    before: {line}" for line in evidence(self.old)]
        lines += [f"    after:  {line}" for line in evidence(self.new)]
        return lines


def _finding_change(old: Dict[str, Any], new: Dict[str, Any]) -> str:
    if bool(old.get("finding")) == bool(new.get("finding")):
        return ""
    return f" (now a FINDING: {new['finding']})" if new.get("finding") else f" (no longer a FINDING: {old['finding']})"


def changed(old: Dict[str, Any], new: Dict[str, Any]) -> bool:
    """The outcome differs (to or from error / timeout included), or the cell became or stopped being a finding."""
    return old["outcome"] != new["outcome"] or bool(old.get("finding")) != bool(new.get("finding"))


@dataclass
class Comparison:
    changes: List[Change]
    compared: int
    only_old: List[Key]
    only_new: List[Key]
    across: str

    unmeasured: List[Tuple[Key, str]] = field(default_factory=list)  # unexpected error / timeout cells, with a reason
    not_comparable: List[Tuple[Key, str]] = field(default_factory=list)  # unsupported on a side: listed, never failed
    findings: List[Key] = field(
        default_factory=list
    )  # NEW's cells in which an attacker page reads a credentialed response

    @property
    def failed(self) -> bool:
        """Something changed, or some cells were not measured: an upgrade check that saw nothing must not pass.
        Cells not comparable (unsupported in that browser on both sides, or only before) are listed and fail nothing,
        unless nothing at all could be compared."""
        return bool(self.changes or self.unmeasured) or (self.compared == 0 and bool(self.not_comparable))

    def report(self) -> List[str]:
        return (
            [line for change in self.changes for line in change.lines()]
            + [f"NOT COMPARABLE {_where(key)}: {why}" for key, why in self.not_comparable]
            + self.summary()
        )

    def summary(self) -> List[str]:
        """The totals line, and what could not be measured."""
        lines = [
            f"{self.compared} cells compared ({self.across}): {len(self.changes)} changed, "
            f"{len(self.only_old)} only in OLD, {len(self.only_new)} only in NEW"
        ]
        if self.not_comparable:
            lines.append(
                f"NOT COMPARABLE: {len(self.not_comparable)} cells were not measured on one side or both (unsupported"
                " in that browser); neither changes nor failures"
            )
        if self.unmeasured:
            key, reason = self.unmeasured[0]
            lines.append(
                f"NOT MEASURED: {len(self.unmeasured)} cells are error or timeout where none was expected, so the"
                f" comparison cannot see them; first: {key[0]} :: {key[1]} [{key[2]}]: {reason}"
            )
        if self.findings:
            key = self.findings[0]
            lines.append(
                f"FINDINGS in NEW: {len(self.findings)} cells in which an attacker page reads a credentialed"
                f" response; first: {key[0]} :: {key[1]} [{key[2]}]"
            )
        return lines


def _index(document: Dict[str, Any], with_pin: bool) -> Dict[Key, Dict[str, Any]]:
    return {
        (r["scenario"], r["case"], r["browser"], r.get("pin", "") if with_pin else None): r for r in document["results"]
    }


def compare(old: Dict[str, Any], new: Dict[str, Any]) -> Comparison:
    old_pins, new_pins = pins_of(old), pins_of(new)
    with_pin = not (len(old_pins) == 1 and len(new_pins) == 1)
    across = "pin by pin" if with_pin else f"{old_pins[0] if old_pins else '?'} -> {new_pins[0] if new_pins else '?'}"
    before, after = _index(old, with_pin), _index(new, with_pin)
    common = sorted((key for key in before if key in after), key=lambda k: tuple(str(p) for p in k))
    not_comparable = [(key, _why_not_comparable(before[key], after[key])) for key in common]
    not_comparable = [(key, why) for key, why in not_comparable if why]
    skipped = {key for key, _ in not_comparable}
    changes = [
        Change(key, before[key], after[key])
        for key in common
        if key not in skipped and changed(before[key], after[key])
    ]
    unmeasured = [
        (key, str(row.get("reason") or row.get("error") or row["outcome"]))
        for side in (before, after)
        for key, row in side.items()
        if row["outcome"] in ("error", "timeout") and not row.get("matched")
    ]
    # Measured before and not now: a measurement lost, which an upgrade check must not pass over.
    unmeasured += [
        (key, f"measured in OLD ({before[key]['outcome']}), not in NEW: {after[key].get('reason') or 'unsupported'}")
        for key in common
        if unsupported(after[key]) and before[key]["outcome"] in ("allowed", "blocked")
    ]
    not_comparable = [
        (key, why) for key, why in not_comparable if not unsupported(after[key]) or unsupported(before[key])
    ]
    findings = sorted((key for key, row in after.items() if row.get("finding")), key=lambda k: tuple(str(p) for p in k))
    return Comparison(
        changes,
        len(common) - len(skipped),
        sorted(k for k in before if k not in after),
        sorted(k for k in after if k not in before),
        across,
        unmeasured,
        findings=findings,
        not_comparable=not_comparable,
    )


def _where(key: Key) -> str:
    scenario, case, browser, pin = key
    return f"{scenario} :: {case} [{browser}]" + (f" ({pin})" if pin else "")


def _why_not_comparable(old: Dict[str, Any], new: Dict[str, Any]) -> str:
    """ "" when both sides were measured; else which side was not, and why (the row's reason)."""
    sides = [(name, row) for name, row in (("OLD", old), ("NEW", new)) if unsupported(row)]
    if not sides:
        return ""
    told = "; ".join(f"{name}: {row.get('reason') or 'unsupported'}" for name, row in sides)
    return f"{old['outcome']} -> {new['outcome']}, not measured in {' and '.join(n for n, _ in sides)} ({told})"
