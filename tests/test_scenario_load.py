"""The loader: good files become scenarios; bad files give every problem with path:line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lab.cli import main
from lab.scenario import ScenarioError, load_file, load_scenarios

GOOD = """\
title = "good"
tags = ["t"]

[origins]
evil = "http://evil.localhost"

[backend]
cors = { resources = { "/api/*" = { origins = "{app}", max_age = { timedelta = { hours = 1 } } } } }

[[backend.routes]]
path = "/api/x"
methods = ["get", "PUT"]
headers = [["X-A", "1"], ["X-A", "2"]]

[[backend.blueprints]]
name = "v1"
url_prefix = "/v1"

[[backend.blueprints]]
name = "users"
parent = "v1"
url_prefix = "/users"
cors = { origins = ["{app}"] }

[[backend.blueprints.routes]]
path = "/list"

[[cases]]
name = "one"
path = "/api/x"
expect = "allowed"

[[cases]]
name = "two"
page = "evil"
path = "/api/x"
method = "PUT"
body = "{}"
headers = { "X-Key" = "{app}" }
expect = "blocked"
expect_per_browser = { firefox = "allowed" }
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> list:
    scenario, problems = load_file(path)
    assert scenario is None, "a bad file must not produce a scenario"
    return [(p.line, p.message) for p in problems]


def test_good_file_becomes_a_scenario(tmp_path: Path) -> None:
    scenario, problems = load_file(write(tmp_path, "good.toml", GOOD))
    assert problems == []
    assert scenario is not None
    assert set(scenario.origins) == {"app", "api", "evil"}
    route = scenario.backend.routes[0]
    assert route.methods == ("GET", "PUT")
    assert route.headers == (("X-A", "1"), ("X-A", "2"))
    assert [bp.parent for bp in scenario.backend.blueprints] == [None, "v1"]
    two = scenario.cases[1]
    assert (two.page, two.method, two.body) == ("evil", "PUT", "{}")
    assert two.expected_in("firefox") == "allowed" and two.expected_in("chromium") == "blocked"
    assert two.line == 33


@pytest.mark.parametrize(
    "mutation, line, message",
    [
        (
            ('[[cases]]\nname = "one"', '[[cases]]\nnmae = "one"'),
            29,
            "unknown key 'nmae' in `cases[1]` (did you mean 'name'?)",
        ),
        (
            ('methods = ["get", "PUT"]', "methods = 3"),
            12,
            "`backend.routes[1].methods` must be a string or a list of strings",
        ),
        (('page = "evil"', 'page = "nowhere"'), 35, "page 'nowhere' is not a declared origin"),
        (
            ('expect = "blocked"', 'expect = "maybe"'),
            40,
            "`cases[2].expect` is 'maybe'; expected one of: allowed, blocked",
        ),
        (('firefox = "allowed"', 'safari = "allowed"'), 41, "unknown browser 'safari' in expect_per_browser"),
        (('parent = "v1"', 'parent = "v2"'), 21, "parent blueprint 'v2' is not declared"),
        (('method = "PUT"', 'method = "GET"'), 38, "a GET request cannot have a body"),
        (('evil = "http://evil.localhost"', 'evil = "https://evil.example.com:443"'), 5, "without its default port"),
        (
            ('evil = "http://evil.localhost"', 'evil = "https://Evil.example.com"'),
            5,
            "write 'https://evil.example.com'",
        ),
        (('evil = "http://evil.localhost"', 'evil = "https://evil.example.com/"'), 5, "(no path, no trailing slash)"),
        (('evil = "http://evil.localhost"', 'evil = "http://evil_host.example.com"'), 5, "is not a host name"),
        (('origins = "{app}"', 'origins = "{ap}"'), 0, "{ap} is not a declared origin"),
        (
            ("max_age = {", "maxage = {"),
            8,
            "unknown key 'maxage' in `backend.cors.resources./api/*` (did you mean 'max_age'?)",
        ),
        # Request headers fetch() would not send as written: it throws, trims, or silently drops them.
        (
            ('"X-Key" = "{app}"', '"X-Key" = "a\\r\\nb"'),
            39,
            "request header X-Key holds a CR: a header value cannot contain NUL, CR or LF, so fetch() throws",
        ),
        (('"X-Key" = "{app}"', '"X-Key" = "a\\u0000b"'), 39, "request header X-Key holds a NUL"),
        (('"X-Key" = "{app}"', '"X Key" = "{app}"'), 39, "request header name 'X Key' is not an HTTP token"),
        (
            ('"X-Key" = "{app}"', '"X-Key" = " {app}\\t"'),
            39,
            "fetch() trims leading and trailing whitespace and sends '{app}'; write that",
        ),
        (
            ('"X-Key" = "{app}"', '"X-Key" = "\u20ac"'),
            39,
            "request header X-Key holds '\u20ac' (U+20AC): header values are bytes",
        ),
        (
            ('"X-Key" = "{app}"', '"Cookie" = "sid=1"'),
            39,
            "Cookie is a forbidden request header: the browser alone sets it and fetch() silently drops it",
        ),
        (('"X-Key" = "{app}"', '"Sec-Purpose" = "x"'), 39, "Sec-Purpose is a forbidden request header"),
        (('"X-Key" = "{app}"', '"X-HTTP-Method-Override" = "trace"'), 39, "names the forbidden method trace"),
        # A response header with CR or LF can never go out as one header line.
        (
            ('["X-A", "2"]', '["X-A", "2\\n"]'),
            13,
            "response header 'X-A' holds an LF in its value: on the wire it would end the header line",
        ),
    ],
)
def test_each_problem_names_its_line(tmp_path: Path, mutation: tuple, line: int, message: str) -> None:
    old, new = mutation
    assert old in GOOD
    found = problems_of(write(tmp_path, "bad.toml", GOOD.replace(old, new, 1)))
    assert any(message in text for _, text in found), found
    matching = [number for number, text in found if message in text]
    if line:
        assert matching[0] == line, found


def test_malformed_toml_reports_the_decoder_line(tmp_path: Path) -> None:
    found = problems_of(write(tmp_path, "broken.toml", 'title = "x"\n\n[backend\npath = 1\n'))
    assert found[0][0] == 3 and found[0][1].startswith("invalid TOML")


def test_every_problem_in_every_file_is_listed(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.toml",
        GOOD.replace("nmae", "x")
        .replace('name = "one"', 'nmae = "one"')
        .replace('expect = "blocked"', 'expect = "nope"'),
    )
    write(tmp_path, "b.toml", "title = [\n")
    write(tmp_path, "c.toml", GOOD)
    with pytest.raises(ScenarioError) as caught:
        load_scenarios([tmp_path])
    files = {p.path.name for p in caught.value.problems}
    assert files == {"a.toml", "b.toml"}
    assert len([p for p in caught.value.problems if p.path.name == "a.toml"]) >= 2


def test_missing_required_keys_and_empty_backend(tmp_path: Path) -> None:
    found = problems_of(write(tmp_path, "empty.toml", 'title = "t"\n[backend]\n[[cases]]\nname = "c"\n'))
    texts = " | ".join(text for _, text in found)
    assert "missing required key 'path'" in texts
    assert "missing required key 'expect'" in texts
    assert "declares no routes" in texts


def test_raw_routes_cannot_be_combined_with_the_extension(tmp_path: Path) -> None:
    text = GOOD.replace('headers = [["X-A", "1"], ["X-A", "2"]]', "raw = true")
    assert any(
        "raw routes answer with exactly their headers" in m for _, m in problems_of(write(tmp_path, "raw.toml", text))
    )


def test_cli_exit_2_without_traceback(tmp_path: Path) -> None:
    write(tmp_path, "bad.toml", GOOD.replace('expect = "allowed"', "expect = 1"))
    completed = subprocess.run(
        [sys.executable, "-m", "lab", "run", str(tmp_path), "--browser", "chromium"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert f"{tmp_path / 'bad.toml'}:31: `cases[1].expect` must be a string, not an integer" in completed.stderr


def test_missing_path_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["list", str(tmp_path / "nope")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_builtin_library_validates(capsys: pytest.CaptureFixture) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    scenarios = int(out.strip().splitlines()[-1].split()[0])
    assert scenarios >= 20, out[-500:]


SUB_TABLE = """\
title = "t"

[backend]
cors = {}

[[backend.routes]]
path = "/x"

[[cases]]
name = "c"
path = "/x"
expect = "allowed"

[cases.headers]
X-Fine = "1"
X-Bad = "a\\nb"
Origin = "{api}"
"""


def test_request_header_problems_name_their_own_line(tmp_path: Path) -> None:
    found = problems_of(write(tmp_path, "sub.toml", SUB_TABLE))
    assert found[0] == (
        16,
        "request header X-Bad holds an LF: a header value cannot contain NUL, CR or LF, so fetch()"
        " throws before sending anything",
    )
    assert (
        found[1][0] == 17 and found[1][1].startswith("Origin is a forbidden request header") and "`page`" in found[1][1]
    )
    assert len(found) == 2, found


def test_response_headers_that_test_an_invalid_response_stay_loadable(tmp_path: Path) -> None:
    """A NUL, other control bytes or a name that is not a token go out as written: how a scenario tests a response that
    is not valid HTTP (tests/test_malformed.py runs one). Only CR and LF, which Flask cannot send, are refused."""
    text = GOOD.replace(
        'headers = [["X-A", "1"], ["X-A", "2"]]',
        'headers = [["X-Bad", "a\\u0000b"], ["X Spaced", "v"], ["X-Ctl", "\\u0001"]]\n'
        'preflight = { status = 204, headers = { X-Bad = "\\u0000" } }',
    )
    scenario, problems = load_file(write(tmp_path, "nul.toml", text))
    assert problems == [] and scenario is not None
    route = scenario.backend.routes[0]
    assert route.headers == (("X-Bad", "a\x00b"), ("X Spaced", "v"), ("X-Ctl", "\x01"))
    assert route.preflight.headers == (("X-Bad", "\x00"),)


def test_every_declared_response_header_is_checked_for_cr_and_lf(tmp_path: Path) -> None:
    hook = SUB_TABLE.replace(
        "[[backend.routes]]",
        '[[backend.hooks]]\nwhen = "after_request"\nheaders = { X-Hook = "a\\r" }\n\n[[backend.routes]]',
    ).split("[cases.headers]")[0]
    assert problems_of(write(tmp_path, "hook.toml", hook)) == [
        (
            8,
            "response header 'X-Hook' holds a CR in its value: on the wire it would end the header line, so it can never"
            " be sent as one header (Flask refuses to set it and answers 500); to test a response that is not valid"
            ' HTTP, use a NUL ("\\u0000")',
        )
    ]
    proxy = SUB_TABLE.replace("cors = {}", 'cors = {}\nproxy_headers = [["X-Proxy", "a\\nInjected: 1"]]').split(
        "[cases.headers]"
    )[0]
    assert [(line, message.split(":")[0]) for line, message in problems_of(write(tmp_path, "proxy.toml", proxy))] == [
        (5, "response header 'X-Proxy' holds an LF in its value")
    ]


def test_cli_refuses_unsendable_headers_with_exit_2(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.toml", GOOD.replace('"X-Key" = "{app}"', '"X-Key" = "a\\r\\nb", "Cookie" = "sid=1"'))
    completed = subprocess.run(
        [sys.executable, "-m", "lab", "run", str(bad), "--browser", "chromium"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2 and "Traceback" not in completed.stderr, completed.stderr
    assert (
        f"{bad}:39: request header X-Key holds a CR: a header value cannot contain NUL, CR or LF, so fetch() throws"
        " before sending anything"
    ) in completed.stderr
    assert f"{bad}:39: Cookie is a forbidden request header" in completed.stderr
    assert "2 problems in scenario files" in completed.stderr
