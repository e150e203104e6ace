"""Which origin server serves each declared origin, and the order a session measures scenarios in (no browser)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import List

from lab.scenario import load_file
from lab.scenario.model import Scenario
from lab.servers import OriginPool, origin_keys
from lab.session import scheduled

CASE = '[[cases]]\nname = "{name}"\npath = "/data"\n{extra}expect = "allowed"\n'


def _scenario(folder: Path, name: str, origins: str, pages: List[str], pause: bool = False) -> Scenario:
    cases = "".join(
        CASE.format(
            name=f"case {i}",
            extra=(f'page = "{page}"\n' if page else "")
            + ("repeat = 2\npause_ms = 1000\n" if pause and i == 0 else ""),
        )
        for i, page in enumerate(pages)
    )
    path = folder / f"{name}.toml"
    path.write_text(
        f'title = "{name}"\n\n[origins]\n{origins}\n[backend]\ncors = {{ origins = "*" }}\n\n'
        '[[backend.routes]]\npath = "/data"\n\n' + cases
    )
    scenario, problems = load_file(path)
    assert scenario is not None and not problems, problems
    return scenario


def test_scenarios_that_name_one_origin_differently_share_its_server(tmp_path: Path) -> None:
    evil = _scenario(tmp_path, "a", 'evil = "http://evil.localhost"\n', ["evil"])
    attacker = _scenario(tmp_path, "b", 'attacker = "http://evil.localhost"\n', ["attacker"])
    assert origin_keys(evil.origins)["evil"] == origin_keys(attacker.origins)["attacker"]
    pool = OriginPool()
    try:
        assert pool.urls(evil.origins)["evil"] == pool.urls(attacker.origins)["attacker"]
    finally:
        pool.close()


def test_one_host_named_twice_in_a_scenario_is_two_origins(tmp_path: Path) -> None:
    twice = _scenario(
        tmp_path,
        "twice",
        'evil = "http://evil.localhost"\nevil2 = "http://evil.localhost"\nsecure = "https://evil.localhost"\n',
        ["evil", "evil2"],
    )
    keys = origin_keys(twice.origins)
    assert len({keys["evil"], keys["evil2"], keys["secure"]}) == 3
    pool = OriginPool()
    try:
        urls = pool.urls(twice.origins)
        assert urls["evil"] != urls["evil2"] and urls["evil"].split(":")[1] == urls["evil2"].split(":")[1]
    finally:
        pool.close()


def test_paused_scenarios_first_then_groups_of_page_origins_in_the_given_order(tmp_path: Path) -> None:
    on_app = [_scenario(tmp_path, f"app{i}", "", [""]) for i in range(3)]
    on_evil = [_scenario(tmp_path, f"evil{i}", 'evil = "http://evil.localhost"\n', ["evil"]) for i in range(3)]
    on_both = _scenario(tmp_path, "both", 'evil = "http://evil.localhost"\n', ["", "evil"])
    paused = _scenario(tmp_path, "paused", 'evil = "http://evil.localhost"\n', ["evil"], pause=True)
    given = [on_app[0], on_evil[0], on_app[1], on_both, paused, on_evil[1], on_app[2], on_evil[2]]
    order = [s.id for s, _ in scheduled([(s, None) for s in given])]
    assert order == [
        paused.id,
        on_app[0].id,
        on_app[1].id,
        on_app[2].id,
        on_both.id,
        on_evil[0].id,
        on_evil[1].id,
        on_evil[2].id,
    ]
    # A shuffled run still changes both orders: the groups' (by first appearance) and the scenarios' within them.
    shuffled = given[:]
    random.Random(7).shuffle(shuffled)
    again = [s.id for s, _ in scheduled([(s, None) for s in shuffled])]
    assert again[0] == paused.id and sorted(again) == sorted(order)
    for group in (on_app, on_evil):
        ids = {s.id for s in group}
        assert [i for i in again if i in ids] == [s.id for s in shuffled if s.id in ids]
    first = next(s for s in shuffled if s is not paused)
    assert again[1] == first.id
