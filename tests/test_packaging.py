"""Installed as users install it (a wheel, not editable), the lab works from any folder: the built-in scenarios ship
inside the package (lab/library), as does everything else its commands read by default."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lab.pins import uv_binary
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the lab installed from a wheel built from this checkout."""
    uv = uv_binary()
    assert uv, "uv comes with the lab (the uv package)"
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run([uv, "build", "--wheel", "--quiet", "-o", str(folder / "dist"), str(ROOT)], check=True, timeout=600)
    (wheel,) = (folder / "dist").glob("cors_lab-*.whl")
    subprocess.run([uv, "venv", "--quiet", str(folder / "venv")], check=True, timeout=120)
    python = folder / "venv" / "bin" / "python"
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(python), str(wheel)], check=True, timeout=600)
    return folder / "venv" / "bin" / "cors-lab"


def test_a_wheel_lists_and_runs_the_built_in_scenarios_from_any_folder(
    installed: Path, tmp_path: Path, browsers: list
) -> None:
    listed = subprocess.run([str(installed), "list"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert listed.returncode == 0, listed.stderr
    library = sum(1 for _ in (ROOT / "scenarios").rglob("*.toml"))
    assert f"{library} scenarios" in listed.stdout.splitlines()[-1]
    out = tmp_path / "results.json"
    ran = subprocess.run(
        [str(installed), "run", "-k", "fetch/credentials", "--browser", "chromium", "--quiet", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    rows = json.loads(out.read_text())["results"]
    assert rows and {r["scenario"] for r in rows} == {"fetch/credentials"} and all(r["matched"] for r in rows)
    doctor = subprocess.run([str(installed), "doctor"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert doctor.returncode == 0 and "chromium" in doctor.stdout, doctor.stdout + doctor.stderr
