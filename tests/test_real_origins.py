"""Origins as production writes them (https://app.example.com, http://localhost:5173) in real browsers.

Nothing here sends anything outside loopback: the browsers the lab launches hand every
name to the lab's router, which either connects it to the lab's own loopback server or
refuses it; the tests observe the router's record instead of letting a request escape.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from lab.browsers.base import Candidate, Routing
from lab.routing import Asked, Router
from lab.scenario import load_file
from lab.servers import OriginPool
from tests.conftest import ENGINES, ROOT, lab_cli

PRODUCTION = ROOT / "scenarios" / "real-origins" / "production-and-dev-origins.toml"
DECLARED = {"app.example.com:443", "api.example.com:443", "localhost:5173", "app.example.com.evil-cdn.net:443"}


def test_origins_are_accepted_as_browsers_write_them(tmp_path: Path) -> None:
    scenario, problems = load_file(PRODUCTION)
    assert scenario is not None and not problems
    origins = scenario.origins
    assert (origins["app"].port, origins["app"].as_written) == (443, "https://app.example.com")
    assert (origins["dev"].port, origins["dev"].as_written) == (5173, "http://localhost:5173")
    assert origins["evil"].as_written == "https://app.example.com.evil-cdn.net" and origins["app"].line == 14
    path = tmp_path / "s.toml"
    path.write_text(
        'title = "t"\n[origins]\napp = "http://app.localhost"\nip = "http://127.0.0.1:8000"\n'
        'one = "https://x.example.com"\ntwo = "https://x.example.com"\n[backend]\n[[backend.routes]]\npath = "/x"\n'
        '[[cases]]\nname = "c"\npath = "/x"\nexpect = "allowed"\nexpect_cookies_sent_per_browser = { opera = true }\n'
    )
    _, problems = load_file(path)
    messages = {p.line: p.message for p in problems}
    assert "declared twice" in messages[5] and "declared twice" in messages[6]
    assert "expect_cookies_sent_per_browser maps a browser" in messages[14]


@pytest.fixture(scope="module")
def production(browsers: List[Candidate], tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    out = tmp_path_factory.mktemp("real-origins") / "out.json"
    done = lab_cli("run", str(PRODUCTION), "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(out.read_text())


def test_each_engine_serves_the_origins_as_written(production: Dict[str, Any]) -> None:
    cells = {(r["case"], r["browser"]): r for r in production["results"]}
    for engine in ENGINES:
        for case, page, outcome in (
            ("the production frontend, with credentials", "https://app.example.com", "allowed"),
            ("the Vite dev server, with credentials", "http://localhost:5173", "allowed"),
            ("a look-alike host that starts with the real one", "https://app.example.com.evil-cdn.net", "blocked"),
        ):
            row = cells[(case, engine)]
            assert row["outcome"] == outcome and row["request"]["page_origin"] == page, (engine, case)
            assert row["exchanges"], (engine, case)
            for exchange in row["exchanges"]:
                assert (
                    exchange["request_headers"]["Origin"] == page
                    and exchange["request_headers"]["Host"] == "api.example.com"
                )


def test_the_routing_served_only_declared_names_and_refused_the_rest(production: Dict[str, Any]) -> None:
    routing = production["routing"]
    assert set(routing) == set(ENGINES)
    for engine, entry in routing.items():
        assert set(entry["routed"]) <= DECLARED, (engine, entry["routed"])
        assert {"app.example.com:443", "api.example.com:443"} <= set(entry["routed"]), engine
        # Chromium reaches a loopback origin as written directly (a resolver rule to the lab's server), so that it
        # sees its address space (lab/browsers/spaces.py); the others route it.
        assert ("localhost:5173" in entry["routed"]) == (engine != "chromium"), (engine, entry["routed"])
        assert not set(entry["refused"]) & DECLARED, (engine, entry["refused"])


def test_lab_assigned_names_go_direct_in_every_engine(browsers: List[Candidate], tmp_path: Path) -> None:
    """`*.localhost` origins are reached directly, never through the router: Chromium once sent every request there
    (Playwright appended `<-loopback>` to its bypass list, and in Chromium a later rule wins)."""
    out = tmp_path / "basics.json"
    chosen = [argument for candidate in browsers for argument in ("--browser", candidate.name)]
    done = lab_cli("run", str(ROOT / "tests" / "e2e" / "basics.toml"), *chosen, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(out.read_text())
    assert {row["browser"] for row in document["results"]} == {c.name for c in browsers}
    for engine, entry in document["routing"].items():
        assert not entry["routed"], (engine, entry["routed"])
        assert not any(name.split(":")[0].endswith("localhost") for name in entry["refused"]), (
            engine,
            entry["refused"],
        )


def test_an_undeclared_name_gets_the_labs_refusal_in_every_engine(browsers: List[Candidate]) -> None:
    """A page on https://app.example.com fetches https://undeclared.example.net: the router refuses it, and says so."""
    scenario, _ = load_file(PRODUCTION)
    assert scenario is not None
    for candidate in browsers:
        router = Router()
        pool = OriginPool(router=router)
        browser = None
        try:
            page_url = pool.urls(scenario.origins)["app"]
            browser = candidate.launch(routing=Routing(router.address))
            result = browser.page(page_url).probe(
                {
                    "url": "https://undeclared.example.net/x?cors_lab=t",
                    "method": "GET",
                    "headers": {},
                    "body": None,
                    "credentials": "same-origin",
                    "mode": "cors",
                    "redirect": "follow",
                    "read_headers": [],
                    "sandboxed": False,
                    "timeout_ms": 5000,
                }
            )
            assert result["outcome"] == "blocked", (candidate.name, result)
            asked = router.asked()
            assert Asked("undeclared.example.net", 443, "CONNECT", False) in asked, (candidate.name, asked)
            assert all(a.host == "app.example.com" for a in asked if a.routed), (candidate.name, asked)
        finally:
            if browser is not None:
                browser.close()
            pool.close()
            router.close()


def test_remote_browsers_cannot_serve_origins_as_written() -> None:
    done = lab_cli("run", str(PRODUCTION), "--webdriver", "chrome=http://127.0.0.1:9")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{PRODUCTION}:14: origin app = 'https://app.example.com' is served through the lab's routing" in done.stderr


DNS_STUB = """
import socket, sys
log = open(sys.argv[1], "a", buffering=1)
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(("127.0.0.53", 53))
while True:
    data, peer = server.recvfrom(4096)
    labels, i = [], 12
    while i < len(data) and data[i]:
        labels.append(data[i + 1:i + 1 + data[i]].decode("ascii", "replace"))
        i += 1 + data[i]
    log.write(".".join(labels) + "\\n")
    server.sendto(data[:2] + b"\\x81\\x83" + data[4:6] + b"\\x00\\x00\\x00\\x00\\x00\\x00" + data[12:i + 5], peer)  # NXDOMAIN
"""


@pytest.mark.skipif(
    shutil.which("unshare") is None or os.geteuid() != 0, reason="needs root and unshare for a network namespace"
)
def test_no_name_is_looked_up(browsers: List[Candidate], tmp_path: Path) -> None:
    """The real-origins scenario in a network namespace whose resolver is a stub that logs every query: the browsers
    look up none of the names (they hand them to the lab's router). Nothing can leave such a namespace anyway."""
    (tmp_path / "stub.py").write_text(DNS_STUB)
    (tmp_path / "resolv.conf").write_text("nameserver 127.0.0.53\n")
    queries, out = tmp_path / "queries.log", tmp_path / "out.json"
    queries.write_text("")
    script = (
        f"set -e; ip link set lo up; ip addr add 192.0.2.1/32 dev lo; ip route add default dev lo;"  # lookups get sent
        f" mount --bind {tmp_path / 'resolv.conf'} /etc/resolv.conf;"
        f" {sys.executable} {tmp_path / 'stub.py'} {queries} & stub=$!; sleep 0.5;"
        f" getent hosts probe.example.org || true;"  # a control: this lookup must reach the stub
        f" {sys.executable} -m lab run {PRODUCTION} --out {out}; status=$?; kill $stub; exit $status"
    )
    done = subprocess.run(
        ["unshare", "--net", "--mount", "--fork", "--", "bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    asked = queries.read_text().split()
    assert "probe.example.org" in asked, asked  # the stub sees lookups made in the namespace
    assert [name for name in asked if name != "probe.example.org"] == [], asked
    rows = json.loads(out.read_text())["results"]
    assert len(rows) == 3 * len(ENGINES) and all(r["matched"] for r in rows)
