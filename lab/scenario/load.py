"""Load scenario files from TOML and validate them into `model` dataclasses.

Every problem in every file is collected (not only the first), each with the
file, the line where it can be known, and what is wrong, so that a person fixes
a folder of scenarios in one pass. This module finds the files, parses them and
gives scenarios their ids; `checks` reads each kind of table.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on older interpreters in the matrix
    import tomli as tomllib

from .checks.checker import Checker
from .checks.origins import PLACEHOLDER, REQUEST_ORIGIN
from .checks.scenario import read_scenario
from .locate import KeyLines
from .model import Scenario
from .problems import Problem, ScenarioError

__all__ = [
    "LIBRARY",
    "PLACEHOLDER",
    "REQUEST_ORIGIN",
    "Problem",
    "ScenarioError",
    "discover",
    "load_file",
    "load_scenarios",
    "scenario_id",
    "tomllib",
]


def _library() -> Path:
    installed = Path(__file__).resolve().parent.parent / "library"  # in a wheel: scenarios/ is shipped as lab/library
    return installed if installed.is_dir() else Path(__file__).resolve().parent.parent.parent / "scenarios"


LIBRARY = _library()
"""The built-in scenarios (the repository's scenarios/, installed as lab/library): ids of the files in it are
relative to it (`fetch/redirects`)."""


def _decode_line(error: Exception) -> Tuple[int, str]:
    message = str(error)
    match = re.search(r"\(at line (\d+), column (\d+)\)", message)
    line = getattr(error, "lineno", None) or (int(match.group(1)) if match else 0)
    return int(line), re.sub(r"\s*\(at line \d+, column \d+\)", "", message)


def load_file(path: Path, scenario_id: Optional[str] = None) -> Tuple[Optional[Scenario], List[Problem]]:
    """Parse and validate one file; returns the scenario (if valid) and its problems."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(path, 0, f"cannot read file: {exc}")]
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        line, message = _decode_line(exc)
        return None, [Problem(path, line, f"invalid TOML: {message}")]
    check = Checker(path, KeyLines(source))
    scenario = read_scenario(path, scenario_id or path.stem, check, data)
    return (None if check.problems else scenario), check.problems


def scenario_id(file: Path, library: Optional[Path]) -> str:
    """The same id however the file was named (the folder, the file, or the whole library):
    relative to the library when it is in one (`fetch/redirects`), otherwise `FOLDER/NAME`,
    the folder being the group, so that results of separate runs can be compared."""
    file = file.resolve()
    if library is not None and library.resolve() in file.parents:
        return file.relative_to(library.resolve()).with_suffix("").as_posix()
    return f"{file.parent.name}/{file.stem}"


def discover(paths: Sequence[Path], library: Optional[Path] = None) -> List[Tuple[Path, str]]:
    """Expand files and folders into (file, scenario id) pairs, in a stable order."""
    found: List[Tuple[Path, str]] = []
    problems: List[Problem] = []
    for given in paths:
        if given.is_dir():
            for file in sorted(given.rglob("*.toml")):
                found.append((file, scenario_id(file, library)))
        elif given.is_file():
            found.append((given, scenario_id(given, library)))
        else:
            problems.append(Problem(given, 0, "no such file or folder"))
    if problems:
        raise ScenarioError(problems)
    if not found:
        raise ScenarioError([Problem(p, 0, "no scenario files (*.toml) here") for p in paths])
    return found


def load_scenarios(paths: Sequence[Path], select: Callable[[Scenario], bool] = lambda s: True) -> List[Scenario]:
    """Load every scenario under `paths`; raise ScenarioError listing every problem in every file."""
    scenarios: List[Scenario] = []
    problems: List[Problem] = []
    ids: Dict[str, Path] = {}
    for file, scenario_id in discover(paths, LIBRARY):
        scenario, found = load_file(file, scenario_id)
        problems.extend(found)
        if scenario is None:
            continue
        if scenario.id in ids:
            problems.append(Problem(file, 0, f"scenario id {scenario.id!r} is also used by {ids[scenario.id]}"))
            continue
        ids[scenario.id] = file
        if select(scenario):
            scenarios.append(scenario)
    problems += _one_space_per_origin(scenarios)
    if problems:
        raise ScenarioError(problems)
    return scenarios


def _one_space_per_origin(scenarios: Sequence[Scenario]) -> List[Problem]:
    """An origin served as written is one server of the run, in one address space: two files that place it in two
    spaces cannot run together (each can alone)."""
    seen: Dict[str, Tuple[str, Scenario]] = {}
    problems = []
    for scenario in scenarios:
        for origin in scenario.origins.values():
            if origin.as_written is None:
                continue
            space, first = seen.setdefault(origin.as_written, (origin.space, scenario))
            if space != origin.space:
                problems.append(
                    Problem(
                        scenario.path,
                        origin.line,
                        f"origin {origin.as_written} lives in the {origin.space} address space here and in the {space}"
                        f" space in {first.path}: one run serves it in one space; run the two files separately",
                    )
                )
    return problems
