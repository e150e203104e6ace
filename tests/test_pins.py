"""Pins files, version conditions and per-version expectations (no network, no browser)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab.pins import Pin, load_pins, pins_from_lists
from lab.scenario import ScenarioError, load_file
from lab.scenario.versions import holds, problem


def test_pins_file_and_its_full_cross_product(tmp_path: Path) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(
        '[[pin]]\nflask = "2.2"\nflask-cors = "3.0.10"\n\n[[pin]]\nflask = "3.1.2"\nflask-cors = "6.0"\n'
        'werkzeug = "3.1.3"\n'
    )
    pins = load_pins(path)
    assert pins == [Pin("2.2", "3.0.10"), Pin("3.1.2", "6.0", werkzeug="3.1.3")]
    assert pins[0].requirements() == ["flask==2.2.*", "flask-cors==3.0.10", "werkzeug==2.2.*"]
    assert pins[1].requirements() == ["flask==3.1.2", "flask-cors==6.0.*", "werkzeug==3.1.3"]
    full = load_pins(path, full=True)
    assert {(p.flask, p.flask_cors) for p in full} == {
        ("2.2", "3.0.10"),
        ("2.2", "6.0"),
        ("3.1.2", "3.0.10"),
        ("3.1.2", "6.0"),
    }


def test_bad_pins_are_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "pins.toml"
    path.write_text('[[pin]]\nflask = "three"\nflask-cors = "6.0"\nflask_cors = "1"\n')
    with pytest.raises(ScenarioError) as caught:
        load_pins(path)
    messages = " | ".join(p.message for p in caught.value.problems)
    assert "'three' is not a version" in messages and "unknown key(s) flask_cors" in messages
    with pytest.raises(ScenarioError):
        pins_from_lists(["3.1"], ["latest"])


def test_the_default_matrix_covers_every_flask_cors_line_and_flask_line() -> None:
    pins = load_pins(Path(__file__).parent.parent / "pins.toml")
    assert {p.flask_cors.split(".")[0] for p in pins} == {"3", "4", "5", "6"}
    assert {p.flask for p in pins} >= {"2.2", "2.3", "3.0", "3.1"}


def test_version_conditions() -> None:
    versions = {"flask": "3.1.3", "flask-cors": "5.0.1", "python": "3.11.7"}
    assert holds("flask-cors<6", versions) and holds("flask>=3.1,flask-cors==5.0.1", versions)
    assert not holds("flask-cors>=6", versions) and not holds("werkzeug<9", versions)
    assert problem("flask-cors ~= 6") is not None and problem("flask-cors<6") is None


def test_expect_by_version_is_validated_and_resolved(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    base = (
        'title = "t"\n[backend]\n[[backend.routes]]\npath = "/x"\n[[cases]]\nname = "c"\npath = "/x"\n'
        'expect = "blocked"\nexpect_by_version = { "CONDITION" = "allowed" }\n'
    )
    path.write_text(base.replace("CONDITION", "flask-cors<6"))
    scenario, problems = load_file(path)
    assert scenario is not None and not problems
    case = scenario.cases[0]
    assert case.expected_in("chromium", {"flask-cors": "5.0.1"}) == "allowed"
    assert case.expected_in("chromium", {"flask-cors": "6.0.5"}) == "blocked"
    path.write_text(base.replace("CONDITION", "flask-cors about 6"))
    _, problems = load_file(path)
    assert problems and problems[0].line == 9 and "not a version condition" in problems[0].message


def test_a_local_build_is_a_pin_and_its_edits_make_a_new_environment(tmp_path: Path) -> None:
    source = tmp_path / "flask-cors"
    (source / "flask_cors").mkdir(parents=True)
    (source / "flask_cors" / "core.py").write_text("x = 1\n")
    pins_file = tmp_path / "pins.toml"
    pins_file.write_text('[[pin]]\nflask = "3.1"\nflask-cors = { path = "flask-cors" }\n')
    pin = load_pins(pins_file)[0]
    assert pin.label == f"flask 3.1 / flask-cors {source.resolve()} (local)"
    assert pin.requirements()[1] == f"flask-cors @ {source.resolve().as_uri()}"
    before = pin.slug
    (source / "flask_cors" / "core.py").write_text("x = 22\n")
    assert pin.slug != before
    pins_file.write_text('[[pin]]\nflask = "3.1"\nflask-cors = { path = "missing" }\n')
    with pytest.raises(ScenarioError, match="path 'missing' does not exist"):
        load_pins(pins_file)


def test_uv_is_found_even_where_its_own_finder_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """uv's find_uv_bin raises TypeError in environments uv made (sysconfig has no EXE there): the lab's uv is found
    beside its interpreter all the same, so pins keep uv's overrides."""
    import sys

    import uv

    from lab.pins import uv_binary

    def broken() -> str:
        raise TypeError('can only concatenate str (not "NoneType") to str')

    monkeypatch.setattr(uv, "find_uv_bin", broken)
    found = uv_binary()
    assert found is not None and Path(found).name == "uv" and Path(found).is_file()
    assert Path(found).parent == Path(sys.executable).parent or found == shutil.which("uv")
