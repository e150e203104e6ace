"""Property-based: whatever bytes a scenario file holds, the loader answers with problems, never a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.cli import main
from lab.scenario import load_file

LIBRARY = Path(__file__).parent.parent / "scenarios"
SAMPLES = [p.read_text(encoding="utf-8") for p in sorted(LIBRARY.rglob("*.toml"))[::9]]
TOML_VALUES = st.sampled_from(
    ["1", '"x"', "true", "[]", "{}", '[1, "a"]', "{ a = 1 }", '"{nowhere}"', "-3", '"*"', '""']
)


def _check(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.toml"
        path.write_text(text, encoding="utf-8")
        scenario, problems = load_file(path)
        lines = text.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1  # as the file reads back
        assert (scenario is None) == bool(problems)
        for problem in problems:
            assert problem.path == path and 0 <= problem.line <= lines and problem.message
            assert str(problem).startswith(f"{path}:{problem.line}: " if problem.line else f"{path}: ")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_random_text_never_raises(text: str) -> None:
    _check(text)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines: List[str] = draw(st.sampled_from(SAMPLES)).splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "revalue", "rekey", "truncate"]))
        line = lines[index]
        if action == "delete":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, line)
        elif action == "revalue" and "=" in line:
            lines[index] = line.split("=", 1)[0] + "= " + draw(TOML_VALUES)
        elif action == "rekey" and "=" in line:
            lines[index] = (
                draw(st.sampled_from(["nmae", "expect", "origins", "x-y", "methods", "page"]))
                + " ="
                + line.split("=", 1)[1]
            )
        elif action == "truncate":
            lines[index] = line[: draw(st.integers(0, len(line)))]
    return "\n".join(lines) + "\n"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_library_files_never_raise(text: str) -> None:
    _check(text)


def test_every_bad_file_in_a_folder_is_named_in_one_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = {
        "a.toml": "title = [",
        "b.toml": 'title = "t"\n[backend]\n',
        "c.toml": SAMPLES[0].replace("expect =", "expect = 1 #", 1),
    }
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "good.toml").write_text(SAMPLES[0])
    assert main(["list", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for name in bad:
        assert str(tmp_path / name) in err
    assert str(tmp_path / "good.toml") not in err


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list('[]="{}.,#\n\r\t abc1\u2028\x0c')), max_size=120))
def test_toml_shaped_text_with_odd_line_breaks_never_raises(text: str) -> None:
    _check(text)
