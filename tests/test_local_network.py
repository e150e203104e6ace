"""Local Network Access (issue 25): address spaces and the local-network permission, in real browsers.

The lab serves every origin on loopback and tells each browser where the scenario says it lives; a case's outcome
must then follow the declared space and the permission alone. Nothing leaves loopback: the names the router saw are
the scenario's own, and a local address (192.168.1.20, nas.local) reaches the lab's server directly, by the
browser's resolver rule, whose request the server records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from lab.browsers.base import Candidate
from lab.scenario import load_file
from lab.scenario.spaces import default_space
from tests.conftest import ROOT, lab_cli

LOCAL = ROOT / "scenarios" / "local-network"


@pytest.mark.parametrize(
    "host, assigned, space",
    [
        ("app.localhost", True, "loopback"),
        ("localhost", False, "loopback"),
        ("127.0.0.1", False, "loopback"),
        ("192.168.1.20", False, "local"),
        ("10.0.0.7", False, "local"),
        ("172.20.1.1", False, "local"),
        ("172.32.1.1", False, "public"),
        ("printer.local", False, "local"),
        ("app.example.com", False, "public"),
        ("8.8.8.8", False, "public"),
    ],
)
def test_spaces_default_to_what_a_real_network_gives(host: str, assigned: bool, space: str) -> None:
    assert default_space(host, assigned) == space


def test_spaces_and_permissions_are_checked_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        'title = "t"\nlocal_network = "maybe"\n[origins]\napp = { url = "http://app.example.com", space = "intranet" }\n'
        'api = "http://localhost:5000"\nweb = { url = "http://web.example.com", space = "public" }\n'
        '[backend]\n[[backend.routes]]\npath = "/x"\n'
        '[[cases]]\nname = "c"\npath = "/x"\nexpect = "blocked"\npage = "web"\nlocal_network = "granted"\n'
    )
    _, problems = load_file(path)
    messages = {p.line: p.message for p in problems}
    assert "'maybe'" in messages[2] and "prompt, granted, denied" in messages[2], messages
    assert "'intranet'" in messages[4] and "public, local, loopback" in messages[4], messages
    assert "needs a secure page" in messages[15] and "http://web.example.com" in messages[15], messages
    done = lab_cli("run", str(path))
    assert done.returncode == 2 and f"{path}:4:" in done.stderr, done.stderr


def test_a_file_default_permission_applies_to_its_cases(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(
        'title = "t"\nlocal_network = "granted"\n[origins]\napp = { url = "http://app.localhost", space = "public" }\n'
        '[backend]\n[[backend.routes]]\npath = "/x"\n[[cases]]\nname = "a"\npath = "/x"\nexpect = "allowed"\n'
        '[[cases]]\nname = "b"\npath = "/x"\nexpect = "blocked"\nlocal_network = "prompt"\n'
    )
    scenario, problems = load_file(path)
    assert scenario is not None and not problems
    assert [c.local_network for c in scenario.cases] == ["granted", "prompt"]
    assert scenario.origins["app"].space == "public" and scenario.origins["api"].space == "loopback"
    assert all(scenario.local_network_request(c) for c in scenario.cases)


def _run(tmp_path: Path, paths: List[Path], engines: List[str]) -> Dict[str, Any]:
    out = tmp_path / "out.json"
    chosen = [argument for engine in engines for argument in ("--browser", engine)]
    done = lab_cli("run", *map(str, paths), *chosen, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(out.read_text())


def _cells(document: Dict[str, Any]) -> Dict[Tuple[str, str], Dict[str, Any]]:
    return {(row["case"], row["browser"]): row for row in document["results"]}


@pytest.fixture(scope="module")
def loopback_api(browsers: List[Candidate], tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    out = tmp_path_factory.mktemp("lna")
    return _run(
        out,
        [LOCAL / "public-page-loopback-api.toml", LOCAL / "public-page-local-device.toml"],
        ["chromium", "firefox", "webkit"],
    )


@pytest.mark.parametrize("engine", ["chromium", "firefox"])
def test_the_declared_space_alone_decides(loopback_api: Dict[str, Any], engine: str) -> None:
    """The same API, the same permission (nobody answers), the same CORS: only the page's declared space differs."""
    cells = _cells(loopback_api)
    public = cells[("public page, permission prompt (nobody answers)", engine)]
    loopback = cells[("the same page on loopback, no permission", engine)]
    assert (public["outcome"], loopback["outcome"]) == ("blocked", "allowed")
    assert not public["exchanges"] and loopback["exchanges"]  # refused before anything was sent
    assert public["local_network"]["page_space"] == "public" and loopback["local_network"] is None
    assert public["local_network"]["permission"] == "prompt"
    if engine == "chromium":
        assert (
            "Permission was denied for this request to access the `loopback` address space" in public["browser_reason"]
        )
    assert "without the local-network permission" in public["model"]["rule"]


@pytest.mark.parametrize("engine", ["chromium", "firefox"])
def test_the_permission_alone_decides(loopback_api: Dict[str, Any], engine: str) -> None:
    cells = _cells(loopback_api)
    for target in ("loopback", "local device"):
        prefix = "public page, permission" if target == "loopback" else "public page -> local device, permission"
        granted, denied = cells[(f"{prefix} granted", engine)], cells[(f"{prefix} denied", engine)]
        assert (granted["outcome"], denied["outcome"]) == ("allowed", "blocked"), (target, engine)
        assert granted["exchanges"] and not denied["exchanges"]
        # No engine asks the old Private Network Access preflight question any more.
        assert granted["local_network"]["asked_private_network"] is False


def test_local_addresses_reach_the_labs_server_and_nothing_else(loopback_api: Dict[str, Any]) -> None:
    """192.168.1.20:8080 and nas.local are answered by the lab's loopback server (which records the request with
    the name the browser used); the router never saw them (Chromium reaches them directly, by its resolver rule),
    and every name it routed is the scenario's."""
    cells = _cells(loopback_api)
    for case, host in (
        ("public page -> 192.168.1.20:8080, permission granted", "192.168.1.20:8080"),
        ("public page -> nas.local, permission granted", "nas.local"),
    ):
        row = cells[(case, "chromium")]
        assert row["outcome"] == "allowed" and row["local_network"]["target_space"] == "local"
        assert [e["request_headers"]["Host"] for e in row["exchanges"]] == [host]
    routing = loopback_api["routing"]["chromium"]
    asked = [*routing["routed"], *routing["refused"]]
    assert not any(name.startswith(("192.168.", "nas.local")) for name in asked), asked
    assert set(routing["routed"]) <= set(), routing["routed"]  # every origin of these files is direct


def test_an_engine_that_cannot_be_told_says_why(loopback_api: Dict[str, Any]) -> None:
    cells = _cells(loopback_api)
    webkit = cells[("public page, permission granted", "webkit")]
    assert webkit["outcome"] == "unsupported" and "address spaces not supported by this engine" in webkit["reason"]
    assert "WebKit" in webkit["reason"] and not webkit["exchanges"]
    assert cells[("the same page on loopback, no permission", "webkit")]["outcome"] == "allowed"
    firefox = cells[("public page -> 192.168.1.20:8080, permission granted", "firefox")]
    assert firefox["outcome"] == "unsupported" and "through its router" in firefox["reason"]


def test_origins_as_written_are_placed_in_chromium_and_firefox(browsers: List[Candidate], tmp_path: Path) -> None:
    """https://app.example.com (public) calling http://localhost:5000 (loopback): Chromium reaches the API directly
    by a resolver rule, Firefox reaches both through the lab's gateways (lab/gateway.py); an insecure public page is
    refused; the routing record holds the scenario's names and nothing else of theirs."""
    document = _run(tmp_path, [LOCAL / "insecure-public-page.toml"], ["chromium", "firefox"])
    cells = _cells(document)
    for engine in ("chromium", "firefox"):
        insecure = cells[("http public page -> localhost, prompt", engine)]
        assert insecure["outcome"] == "blocked" and insecure["local_network"]["secure_page"] is False
        assert not insecure["exchanges"]
        granted = cells[("https public page -> localhost, permission granted", engine)]
        assert granted["outcome"] == "allowed" and granted["exchanges"]
        assert granted["exchanges"][0]["request_headers"]["Origin"] == "https://app.example.com"
        assert cells[("https public page -> localhost, prompt", engine)]["outcome"] == "blocked"
    assert "not a secure context" in cells[("http public page -> localhost, prompt", "chromium")]["browser_reason"]
    declared = {"app.example.com:80", "app.example.com:443", "localhost:5000"}
    for engine, entry in document["routing"].items():
        assert set(entry["routed"]) <= declared, (engine, entry)
        assert not any(name.split(":")[0] in ("app.example.com", "localhost") for name in entry["refused"]), entry


def test_one_run_places_an_origin_in_one_space(tmp_path: Path) -> None:
    body = '[backend]\n[[backend.routes]]\npath = "/x"\n[[cases]]\nname = "c"\npath = "/x"\nexpect = "allowed"\n'
    (tmp_path / "a.toml").write_text(f'title = "a"\n[origins]\napi = "http://localhost:5000"\n{body}')
    (tmp_path / "b.toml").write_text(
        f'title = "b"\n[origins]\napi = {{ url = "http://localhost:5000", space = "local" }}\n{body}'
    )
    done = lab_cli("run", str(tmp_path), "--browser", "chromium")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{tmp_path / 'b.toml'}:3: origin http://localhost:5000 lives in the local address space here" in done.stderr


def test_a_scan_never_lets_the_permission_prompt_keep_an_attacker_out(tmp_path: Path) -> None:
    """The default `--api` stands for a public API (no local-network request); an API on loopback makes every
    secure attacker page's case granted, so only CORS can refuse it; the written file loads as any other."""
    from lab.scan import AppSpec, Endpoint, scenario_text

    app, found = AppSpec("app:app", ".", {}), [Endpoint("/x", "GET", "/x")]
    for api, space in (("http://api.localhost", "public"), ("http://localhost:5000", "loopback")):
        text = scenario_text(app, {"app": "https://app.example.com"}, api, found, [], {})
        path = tmp_path / "scan.toml"
        path.write_text(text)
        scenario, problems = load_file(path)
        assert scenario is not None and not problems, problems
        assert scenario.origins["api"].space == space
        granted = {c.name for c in scenario.cases if c.local_network == "granted"}
        local = {c.name for c in scenario.cases if scenario.local_network_request(c)}
        secure_attackers = {c.name for c in scenario.cases if c.attacker and scenario.origins[c.page].scheme == "https"}
        if space == "public":
            assert not local and not granted
        else:
            assert granted == secure_attackers and granted and granted < local


def test_placement_before_launch(tmp_path: Path) -> None:
    """What each engine is told, from the scenarios alone: Chromium maps every origin that is not public to its server
    (plain lab-assigned localhost too); Firefox places the written names of local-network cases with every name its
    proxy bypass would also match, and leaves an address written as such, and a plain localhost, to the router."""
    from lab.browsers.base import Candidate
    from lab.browsers.spaces import unsupported_reason
    from lab.placement import place
    from lab.routing import Router
    from lab.servers import OriginPool

    path = tmp_path / "p.toml"
    path.write_text(
        'title = "p"\n[origins]\napp = "https://app.example.com"\nevil = "https://evil-app.example.com"\n'
        'api = "http://localhost:5000"\ndevice = "http://192.168.1.20:8080"\nplain = "http://localhost"\n'
        '[backend]\n[[backend.routes]]\npath = "/x"\n'
        '[[cases]]\nname = "a"\npath = "/x"\nexpect = "blocked"\n'
        '[[cases]]\nname = "d"\npath = "/x"\ntarget = "device"\nexpect = "blocked"\n'
        '[[cases]]\nname = "p"\npath = "/x"\ntarget = "plain"\nexpect = "blocked"\n'
    )
    scenario, problems = load_file(path)
    assert scenario is not None and not problems, problems
    router = Router()
    pool = OriginPool(router=router)
    try:
        chromium = place(pool, [scenario], "chromium")
        direct = {(host, port) for host, port, _ in chromium.direct}
        assert {("localhost", 5000), ("192.168.1.20", 8080)} <= direct and ("app.example.com", 443) not in direct
        assert any(host == "localhost" and port not in (5000, 80) for host, port in direct)  # the plain one
        firefox = place(pool, [scenario], "firefox")
        assert set(firefox.direct_names) == {"app.example.com", "evil-app.example.com", "localhost"}
        prefs = firefox.firefox_prefs()
        assert prefs["network.dns.disabled"] is True and "network.dns.forceResolve" not in prefs
        assert {p.split("=")[0] for p in prefs["network.socket.forcePort"].split(";")} == {"443", "5000"}
        public = prefs["network.lna.address_space.public.override"]
        assert public == f"127.0.0.1:{dict((w, g) for w, g, _ in firefox.gateways)[443]}"
        native = Candidate("firefox", "firefox", "/usr/bin/firefox-esr", "webdriver bidi", lambda **_: None, True, True)
        cases = {c.name: c for c in scenario.cases}
        assert unsupported_reason(native, scenario, cases["a"], firefox) is None
        assert "http://192.168.1.20:8080" in (unsupported_reason(native, scenario, cases["d"], firefox) or "")
        assert "plain localhost" in (unsupported_reason(native, scenario, cases["p"], firefox) or "")
    finally:
        pool.close()
        router.close()


pytestmark = pytest.mark.browser
