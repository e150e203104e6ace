"""A scenario file's top table: its description, then each part read by its own module, in an order that keeps the
problems of a file in the order a person reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

from ..model import Scenario
from ..spaces import PERMISSIONS
from .backend import read_backend
from .cases import read_cases
from .checker import Checker
from .claims import read_claims
from .origins import check_placeholders, read_origins


def read_scenario(path: Path, scenario_id: str, check: Checker, data: Dict[str, Any]) -> Scenario:
    """The scenario `data` describes; what is wrong is in `check.problems` (the scenario is then not to be used)."""
    table = check.table(
        data,
        (),
        ("title", "description", "source", "tags", "origins", "local_network", "backend", "cases", "claims"),
        required=("title", "backend", "cases"),
    )
    origins = read_origins(check, table.get("origins"))
    local_network = check.get(table, "local_network", (), str, "prompt", PERMISSIONS)
    cases = read_cases(check, table.get("cases", []), origins, local_network)
    claims = read_claims(check, table.get("claims", []), cases)
    check_placeholders(check, table, origins)
    return Scenario(
        id=scenario_id,
        path=path,
        title=check.get(table, "title", (), str, path.stem),
        description=check.get(table, "description", (), str, ""),
        source=check.get(table, "source", (), str, ""),
        tags=check.strings(table, "tags", ()),
        origins=origins,
        backend=read_backend(check, table.get("backend", {})),
        cases=cases,
        claims=claims,
    )
