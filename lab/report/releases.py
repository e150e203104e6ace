"""Release history: the known changes of flask-cors, Flask and Werkzeug (lab/changes.toml) against measured cells.

Three readers of a results document use it: the docs page of what each release
changed in real browsers (`cors-lab report --releases`), the HTML report's view of
what changed between consecutive pins, and `cors-lab diff`, which lists the known
changes between two pins and whether they showed up as changed cells.

A cell that is `unsupported` on either side (its browser was not run: it cannot be told
what the case needs, such as address spaces) is never compared, so it is never a change.
A change marked `local_network` (about the Private Network Access preflight) is decided
by its scenarios' measurements: listed with the changes a browser can observe where some
engine shows a difference, else with what each engine measured on those cells.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ..results import NOT_MEASURED, unsupported

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CHANGES = Path(__file__).resolve().parent.parent / "changes.toml"
PACKAGES = ("flask-cors", "flask", "werkzeug")
ENGINE_ORDER = ("chromium", "firefox", "webkit")
PRIVATE_NETWORK_ASK = "Access-Control-Request-Private-Network"


@dataclass(frozen=True)
class KnownChange:
    """One behaviour change a release shipped, and the scenarios that show it (or why none can)."""

    package: str
    version: str
    what: str
    source: str
    scenarios: Tuple[str, ...] = ()
    unobservable: Optional[str] = None  # why no browser can see it
    pending: Optional[str] = None  # a browser could see it, but the library does not probe it yet: why
    local_network: bool = False  # about the PNA preflight: where no case differs, say what each engine measured

    @property
    def release(self) -> str:
        return f"{self.package} {self.version}"


def load_changes(path: Path = CHANGES) -> List[KnownChange]:
    """The catalog, in file order (which is release order)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [
        KnownChange(
            entry["package"],
            entry["version"],
            entry["what"],
            entry["source"],
            tuple(entry.get("scenarios", ())),
            entry.get("unobservable"),
            entry.get("pending"),
            bool(entry.get("local_network", False)),
        )
        for entry in data["change"]
    ]


def version_key(version: str) -> Tuple[int, int, int]:
    numbers = [int(part) for part in re.findall(r"\d+", version)[:3]]
    return tuple(numbers + [0] * (3 - len(numbers)))  # type: ignore[return-value]


def between(changes: Sequence[KnownChange], package: str, old: str, new: str) -> List[KnownChange]:
    """The changes an upgrade of `package` from `old` to `new` crosses (old < version <= new); a downgrade crosses the same."""
    low, high = sorted((version_key(old), version_key(new)))
    return [c for c in changes if c.package == package and low < version_key(c.version) <= high]


def _others(package: str) -> Tuple[str, ...]:
    """What must stay the same across a pair of pins for a changed cell to be this package's doing."""
    return ("flask-cors", "python") if package in ("flask", "werkzeug") else ("flask", "werkzeug", "python")


def _ships(pin: Dict[str, Any], change: KnownChange) -> bool:
    installed = version_key(pin.get(change.package) or "0")
    return installed >= version_key(change.version)


def pin_pair(change: KnownChange, pins: Sequence[Dict[str, Any]]) -> Optional[Tuple[Dict[str, Any], Dict[str, Any]]]:
    """The release that shipped the change and the one before it, among the pins of a run, everything else equal."""
    usable = [p for p in pins if not p.get("error") and p.get(change.package)]
    pairs = []
    for new in usable:
        if not _ships(new, change):
            continue
        before = [
            old
            for old in usable
            if not _ships(old, change) and all(old.get(k) == new.get(k) for k in _others(change.package))
        ]
        if before:
            old = max(before, key=lambda p: version_key(p[change.package]))
            pairs.append((old, new))
    if not pairs:
        return None
    # The closest pair: the newest release before the change and the oldest one that has it.
    return min(
        pairs,
        key=lambda pair: (version_key(pair[1][change.package]), [-n for n in version_key(pair[0][change.package])]),
    )


def _cells(rows: Iterable[Dict[str, Any]], scenarios: Sequence[str]) -> Dict[Tuple[str, str, str], Dict[str, Any]]:
    return {(r["scenario"], r["case"], r["browser"]): r for r in rows if r["scenario"] in scenarios}


def _rows_of(document: Dict[str, Any], label: str) -> List[Dict[str, Any]]:
    return [r for r in document["results"] if r.get("pin", "") == label]


@dataclass
class CaseChange:
    """One case of a change's scenarios, before and after, per browser."""

    scenario: str
    case: str
    outcomes: Dict[str, Tuple[str, str]]  # browser -> (before, after), for the browsers measured on both sides
    expected_change: bool  # the scenario's expectations differ between the two pins
    unsupported: Dict[str, str] = field(default_factory=dict)  # browser -> why it was not measured on a side
    unanswered: Dict[str, str] = field(default_factory=dict)  # browser -> the sides, one without the expected answer

    @property
    def changed(self) -> bool:
        return any(before != after for before, after in self.outcomes.values())


def case_changes(
    old_rows: Iterable[Dict[str, Any]], new_rows: Iterable[Dict[str, Any]], scenarios: Sequence[str]
) -> List[CaseChange]:
    """Every case of these scenarios measured on both sides whose outcome or expectation differs between them. A cell
    unsupported on either side is not compared (nothing was measured there): it is kept only as the reason why."""
    old, new = _cells(old_rows, scenarios), _cells(new_rows, scenarios)
    grouped: Dict[Tuple[str, str], CaseChange] = {}
    for key in sorted(set(old) & set(new)):
        scenario, case, browser = key
        entry = grouped.setdefault((scenario, case), CaseChange(scenario, case, {}, False))
        skipped = [row for row in (old[key], new[key]) if unsupported(row)]
        if skipped:
            entry.unsupported[browser] = str(skipped[0].get("reason") or "unsupported")
            continue
        if _unanswered(old[key]) or _unanswered(new[key]):
            entry.unanswered[browser] = f"{old[key]['outcome']} → {new[key]['outcome']}"
            continue
        entry.outcomes[browser] = (old[key]["outcome"], new[key]["outcome"])
        entry.expected_change |= old[key]["expected"] != new[key]["expected"]
    return [c for c in grouped.values() if c.changed or c.expected_change]


def _unanswered(row: Dict[str, Any]) -> bool:
    """A cell with no answer where its case expected one (an unexpected timeout or error): nothing was measured, so
    it is not compared (an expected error, an app that must not start, is an outcome like any other)."""
    return row["outcome"] in ("timeout", "error") and not row.get("matched")


PERMISSION_ORDER = ("granted", "prompt", "denied")


def _what_decides(rows: Sequence[Dict[str, Any]]) -> str:
    """What measured cells of one engine show: how the outcome follows the local-network permission, and whether the
    browser asked with the Private Network Access preflight header (`local_network.asked_private_network`)."""
    by_permission: Dict[str, set] = {}
    for row in rows:
        permission = (row.get("local_network") or {}).get("permission") or "no local-network request"
        by_permission.setdefault(permission, set()).add(row["outcome"])
    outcomes = {row["outcome"] for row in rows}
    if len(outcomes) == 1:
        decides = f"every cell {next(iter(outcomes))}"
    elif all(len(found) == 1 for found in by_permission.values()):
        permissions = sorted(
            by_permission,
            key=lambda p: (PERMISSION_ORDER.index(p) if p in PERMISSION_ORDER else len(PERMISSION_ORDER), p),
        )
        grouped: Dict[str, List[str]] = {}
        for permission in permissions:
            grouped.setdefault(next(iter(by_permission[permission])), []).append(permission)
        decides = (
            "the permission alone decides ("
            + "; ".join(f"{', '.join(names)} → {outcome}" for outcome, names in grouped.items())
            + ")"
        )
    else:
        decides = "the outcome does not follow the permission alone, and is the same on both releases"
    asked = sum(1 for row in rows if (row.get("local_network") or {}).get("asked_private_network"))
    if asked:
        return f"{decides}; {PRIVATE_NETWORK_ASK} sent in {asked} of {len(rows)} cells"
    return f"{decides}, no {PRIVATE_NETWORK_ASK} sent"


def measured_on_engines(
    old_rows: Iterable[Dict[str, Any]],
    new_rows: Iterable[Dict[str, Any]],
    scenarios: Sequence[str],
    browsers: Sequence[str],
    names: Dict[str, str],
) -> List[Tuple[str, bool]]:
    """Per engine, what its cells of these scenarios measured on both pins (text, and whether any was measured):
    what decided the outcome and whether a Private Network Access preflight asked, with the number of cells; or,
    where every cell is unsupported on a side, why the engine could not measure them. Read from the rows, so it
    says what the browsers did, not what they were thought to do."""
    old, new = _cells(old_rows, scenarios), _cells(new_rows, scenarios)
    keys = sorted(set(old) & set(new))
    said: List[Tuple[str, bool]] = []
    previous = None
    for browser in browsers:
        mine = [key for key in keys if key[2] == browser]
        if not mine:
            continue
        name = names.get(browser, browser)
        pairs = [(old[key], new[key]) for key in mine]
        measured = [row for pair in pairs if not any(unsupported(r) or _unanswered(r) for r in pair) for row in pair]
        skipped = [row for pair in pairs for row in pair if unsupported(row)]
        unanswered = [
            row
            for pair in pairs
            if not any(unsupported(r) for r in pair) and any(_unanswered(r) for r in pair)
            for row in pair
        ]
        reasons = "; ".join(dict.fromkeys(str(row.get("reason") or "unsupported") for row in skipped))
        if not measured:
            said.append((f"{name}: not measurable ({reasons or 'no cell answered on both sides'})", False))
            previous = None
            continue
        decides = _what_decides(measured)
        text = "same" if decides == previous else decides
        count = f"{len(measured)} cells"
        if unanswered:
            how = "timed out" if all(r["outcome"] != "error" for r in unanswered) else "timed out or failed"
            count += f"; {len(unanswered)} not compared, a page that {how} on one side"
        if skipped:
            count += f"; {len(skipped)} not measurable: {reasons}"
        said.append((f"{name}: {text} ({count})", True))
        previous = decides
    return said


def _names(*documents: Dict[str, Any]) -> Dict[str, str]:
    """Browser name -> its product and version as the run recorded them (`Chromium 156.0.8078.129`)."""
    return {
        b["name"]: " ".join(str(part) for part in (b.get("product") or b["name"], b.get("version")) if part)
        for document in documents
        for b in document.get("browsers", [])
    }


def _ran(old_rows: Sequence[Dict[str, Any]], new_rows: Sequence[Dict[str, Any]], scenarios: Sequence[str]) -> bool:
    """Whether any of these scenarios has cells on both pins."""
    return bool(set(_cells(old_rows, scenarios)) & set(_cells(new_rows, scenarios)))


def _browsers(document: Dict[str, Any]) -> List[str]:
    names = [b["name"] for b in document.get("browsers", [])]
    return sorted(names, key=lambda n: (ENGINE_ORDER.index(n) if n in ENGINE_ORDER else len(ENGINE_ORDER), n))


def _cell(case: CaseChange, browser: str) -> str:
    if browser in case.unsupported:
        return NOT_MEASURED
    if browser in case.unanswered:
        return f"{case.unanswered[browser]} (no answer: not compared)"
    pair = case.outcomes.get(browser)
    if pair is None:
        return "-"
    before, after = pair
    return before if before == after else f"{before} → {after}"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def releases_markdown(document: Dict[str, Any], command: str, changes: Optional[Sequence[KnownChange]] = None) -> str:
    """The docs page: per known change, the release, what each engine did before and after, and the source."""
    changes = load_changes() if changes is None else changes
    pins = document.get("pins", [])
    browsers = _browsers(document)
    engines = ", ".join(f"{b['product']} {b['version']}" for b in document.get("browsers", []))
    lines = [
        "# What flask-cors, Flask and Werkzeug releases changed in real browsers",
        "",
        f"Generated by `{command}` from a run of `pins-releases.toml` (`nox -s docs`): {len(document['results'])} cells,",
        f"{len(pins)} pins, in {engines}. Do not edit by hand.",
        "",
        "Each row is a case whose outcome changed between a release and the one before it (same Flask, Werkzeug and",
        "Python), measured in every engine: `before → after`. The scenarios cite the changelog entry or advisory;",
        "`cors-lab explain SCENARIO:CASE` tells the story of a case. The catalog of changes is `lab/changes.toml`.",
        "A cell an engine could not measure (`unsupported` on either pin, such as an origin's address space the",
        f"browser cannot be told) is never compared, so it is never a change: it shows as `{NOT_MEASURED}`; nor is a",
        "cell whose page timed out where its case expected an answer (nothing was measured there either). A Private",
        "Network Access change (`local_network` in the catalog) is listed here only where some engine's cells differ;",
        "otherwise the next section says what each engine measured on its cases.",
        "",
        "## Changes a browser can observe",
        "",
        "| Release | Change | Case | " + " | ".join(browsers) + " | Pins compared | Source |",
        "|---|---|---|" + "---|" * len(browsers) + "---|---|",
    ]
    unmeasured: List[Tuple[KnownChange, str]] = []
    quiet: Dict[KnownChange, str] = {}  # local_network changes no case of which differs: what each engine measured
    names = _names(document)
    for change in changes:
        if change.unobservable or change.pending:
            continue
        pair = pin_pair(change, pins)
        if pair is None:
            unmeasured.append((change, "no pair of pins in this run isolates it"))
            continue
        old, new = pair
        old_rows, new_rows = _rows_of(document, old["label"]), _rows_of(document, new["label"])
        compared = f"{old.get(change.package)} → {new.get(change.package)} ({_context(new, change.package)})"
        if not _ran(old_rows, new_rows, change.scenarios):
            unmeasured.append((change, f"{', '.join(change.scenarios)} did not run on {compared}"))
            continue
        found = case_changes(old_rows, new_rows, change.scenarios)
        if change.local_network and not any(case.changed for case in found):
            said = measured_on_engines(old_rows, new_rows, change.scenarios, browsers, names)
            engines = "; ".join(text for text, _ in said)
            if not any(measured for _, measured in said):
                unmeasured.append((change, f"no engine could measure {', '.join(change.scenarios)}: {engines}"))
                continue
            quiet[change] = (
                f"No case of {', '.join(f'`{s}`' for s in change.scenarios)} differs between"
                f" {old.get(change.package)} and {new.get(change.package)} ({_context(new, change.package)}) in an"
                f" engine that measured it. {engines}."
            )
            continue
        if not found:
            lines.append(
                f"| {change.release} | {_md(change.what)} | no case changed | "
                + " | ".join("-" for _ in browsers)
                + f" | {_md(compared)} | {_md(change.source)} |"
            )
        for case in found:
            lines.append(
                f"| {change.release} | {_md(change.what)} | `{case.scenario}`: {_md(case.case)} | "
                + " | ".join(_cell(case, b) for b in browsers)
                + f" | {_md(compared)} | {_md(change.source)} |"
            )
    lines += [
        "",
        "## Changes no browser can observe",
        "",
        "| Release | Change | Why no browser sees it | Source |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {c.release} | {_md(c.what)} | {_md(c.unobservable or quiet.get(c, ''))} | {_md(c.source)} |"
        for c in changes
        if c.unobservable or c in quiet
    ]
    pending = [c for c in changes if c.pending]
    if pending:
        lines += [
            "",
            "## Known, not yet probed by the library",
            "",
            "| Release | Change | Why not yet | Source |",
            "|---|---|---|---|",
        ]
        lines += [f"| {c.release} | {_md(c.what)} | {_md(c.pending or '')} | {_md(c.source)} |" for c in pending]
    if unmeasured:
        lines += ["", "## Not measured in this run", ""]
        lines += [f"- {c.release}: {c.what} ({why})" for c, why in unmeasured]
    return "\n".join(lines) + "\n"


def _context(pin: Dict[str, Any], package: str) -> str:
    return ", ".join(f"{k} {pin[k]}" for k in _others(package) if pin.get(k))


def consecutive_pin_changes(document: Dict[str, Any]) -> List[Dict[str, Any]]:
    """For each pin and the pin after it (in the run's order), the cells whose outcome differs: the HTML report's
    view of what an upgrade from one to the next changes."""
    pins = {p["label"]: p for p in document.get("pins", []) if not p.get("error")}
    labels = list(pins)
    by_pin: Dict[str, Dict[Tuple[str, str, str], str]] = {label: {} for label in labels}
    for row in document["results"]:
        if row.get("pin", "") in by_pin and not unsupported(row):  # not measured: never compared, never a change
            by_pin[row["pin"]][(row["scenario"], row["case"], row["browser"])] = row["outcome"]
    steps = []
    for old, new in zip(labels, labels[1:]):
        before, after = by_pin[old], by_pin[new]
        cells = [
            {"scenario": k[0], "case": k[1], "browser": k[2], "before": before[k], "after": after[k]}
            for k in sorted(set(before) & set(after))
            if before[k] != after[k]
        ]
        differs = [
            f"{k} {pins[old].get(k)} → {pins[new].get(k)}"
            for k in (*PACKAGES, "python")
            if pins[old].get(k) != pins[new].get(k)
        ]
        steps.append(
            {
                "old": old,
                "new": new,
                "differs": ", ".join(differs),
                "compared": len(set(before) & set(after)),
                "cells": cells,
            }
        )
    return steps


def upgrade_coverage(
    old: Dict[str, Any], new: Dict[str, Any], changes: Optional[Sequence[KnownChange]] = None
) -> List[str]:
    """For two single-pin results: the known changes between their versions, and which showed up as changed cells."""
    changes = load_changes() if changes is None else changes
    old_pins, new_pins = old.get("pins", []), new.get("pins", [])
    if len(old_pins) != 1 or len(new_pins) != 1:
        return []
    lines: List[str] = []
    for package in PACKAGES:
        before, after = old_pins[0].get(package), new_pins[0].get(package)
        if not before or not after or before == after:
            continue
        crossed = between(changes, package, before, after)
        lines.append(f"Known changes between {package} {before} and {after} ({len(crossed)} in lab/changes.toml):")
        if not crossed:
            lines.append("    none known")
        for change in crossed:
            lines.append(f"  {change.release}: {change.what}")
            lines.append(f"    {_coverage(change, old, new)}")
    return lines


def _coverage(change: KnownChange, old: Dict[str, Any], new: Dict[str, Any]) -> str:
    if change.unobservable:
        return f"not observable in a browser: {change.unobservable}"
    if change.pending:
        return f"not probed by the library yet: {change.pending}"
    measured = {r["scenario"] for r in old["results"]} & {r["scenario"] for r in new["results"]}
    missing = [s for s in change.scenarios if s not in measured]
    if len(missing) == len(change.scenarios):
        return f"covered by {', '.join(change.scenarios)}, which these runs did not include"
    found = case_changes(old["results"], new["results"], change.scenarios)
    changed = sum(1 for c in found for before, after in c.outcomes.values() if before != after)
    expected = [c for c in found if c.expected_change]
    names = ", ".join(s for s in change.scenarios if s in measured)
    if changed:
        return f"showed up: {changed} changed cell(s) in {names}"
    if change.local_network:
        said = measured_on_engines(old["results"], new["results"], change.scenarios, _browsers(new), _names(old, new))
        return f"no changed cell in {names}; measured: " + "; ".join(text for text, _ in said)
    if expected:
        return f"NOT seen: {names} expected a change between these pins, and no cell changed"
    return f"no changed cell in {names}, and none expected between these two pins (a later release reverted it, or it needs other versions)"
