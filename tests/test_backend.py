"""The backend builder: each style produces a real Flask app whose headers we check over HTTP."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from lab.backend import BackendBuildError, build_app
from lab.scenario import load_file
from tests.backend_helpers import header, serve

CASE = '\n[[cases]]\nname = "c"\npath = "/"\nexpect = "allowed"\n'


def test_extension_with_resources_allows_only_the_listed_origin(tmp_path: Path) -> None:
    with serve(
        tmp_path,
        """
        title = "t"
        [origins]
        evil = "http://evil.localhost"
        [backend]
        cors = { resources = { "/api/*" = { origins = "{app}" } } }
        [[backend.routes]]
        path = "/api/x"
        [[backend.routes]]
        path = "/other"
    """
        + CASE,
    ) as served:
        status, headers, body = served.request("GET", "/api/x?cors_lab=t1")
        assert status == 200 and body == "ok: GET /api/x"
        assert header(headers, "Access-Control-Allow-Origin") == [served.urls["app"]]
        assert header(served.request("GET", "/api/x", origin="evil")[1], "Access-Control-Allow-Origin") == []
        assert header(served.request("GET", "/other")[1], "Access-Control-Allow-Origin") == []
        recorded = served.recorder.take("t1")
        assert [(e.kind, e.method, e.status) for e in recorded] == [("request", "GET", 200)]
        assert recorded[0].request_headers["Origin"] == served.urls["app"]


def test_decorator_overrides_and_disables(tmp_path: Path) -> None:
    with serve(
        tmp_path,
        """
        title = "t"
        [backend]
        [[backend.routes]]
        path = "/public"
        cross_origin = {}
        [[backend.routes]]
        path = "/closed"
        cross_origin = { origins = [] }
    """
        + CASE,
    ) as served:
        assert header(served.request("GET", "/public")[1], "Access-Control-Allow-Origin") == [served.urls["app"]]
        assert header(served.request("GET", "/closed")[1], "Access-Control-Allow-Origin") == []


def test_blueprints_nested_and_prefixed(tmp_path: Path) -> None:
    with serve(
        tmp_path,
        """
        title = "t"
        [backend]
        [[backend.blueprints]]
        name = "v1"
        url_prefix = "/v1"
        cors = { origins = "{app}" }
        [[backend.blueprints.routes]]
        path = "/ping"
        [[backend.blueprints]]
        name = "users"
        parent = "v1"
        url_prefix = "/users"
        [[backend.blueprints.routes]]
        path = "/list"
    """
        + CASE,
    ) as served:
        status, headers, _ = served.request("GET", "/v1/ping")
        assert status == 200 and header(headers, "Access-Control-Allow-Origin") == [served.urls["app"]]
        status, _, body = served.request("GET", "/v1/users/list")
        assert status == 200 and body == "ok: GET /list"


def test_order_controls_when_the_extension_is_applied(tmp_path: Path) -> None:
    text = (
        """
        title = "t"
        [backend]
        cors = { origins = "{app}" }
        order = ORDER
        [[backend.routes]]
        path = "/x"
        cross_origin = { origins = "*", send_wildcard = true }
    """
        + CASE
    )
    for order in ('["cors", "hooks", "routes", "blueprints"]', '["routes", "hooks", "blueprints", "cors"]'):
        with serve(tmp_path, text.replace("ORDER", order)) as served:
            assert header(served.request("GET", "/x")[1], "Access-Control-Allow-Origin") == ["*"]


def test_config_keys_are_read_by_the_extension(tmp_path: Path) -> None:
    with serve(
        tmp_path,
        """
        title = "t"
        [origins]
        evil = "http://evil.localhost"
        [backend]
        config = { CORS_ORIGINS = ["{app}"], CORS_EXPOSE_HEADERS = ["X-Total"] }
        cors = {}
        [[backend.routes]]
        path = "/x"
        headers = { X-Total = "3" }
    """
        + CASE,
    ) as served:
        _, headers, _ = served.request("GET", "/x")
        assert header(headers, "Access-Control-Allow-Origin") == [served.urls["app"]]
        assert header(headers, "Access-Control-Expose-Headers") == ["X-Total"]
        assert header(served.request("GET", "/x", origin="evil")[1], "Access-Control-Allow-Origin") == []


def test_manual_hooks_reflect_allowlisted_origins_and_answer_options(tmp_path: Path) -> None:
    with serve(
        tmp_path,
        """
        title = "t"
        [origins]
        evil = "http://evil.localhost"
        [backend]
        [[backend.hooks]]
        when = "after_request"
        only_origins = ["{app}"]
        headers = { Access-Control-Allow-Origin = "{request_origin}", Vary = "Origin" }
        [[backend.hooks]]
        when = "before_request"
        response = "default-options"
        headers = { Access-Control-Allow-Methods = "GET, PUT" }
        [[backend.routes]]
        path = "/x"
        methods = ["GET", "PUT"]
    """
        + CASE,
    ) as served:
        _, headers, _ = served.request("GET", "/x")
        assert header(headers, "Access-Control-Allow-Origin") == [served.urls["app"]]
        assert header(headers, "Vary") == ["Origin"]
        assert header(served.request("GET", "/x", origin="evil")[1], "Access-Control-Allow-Origin") == []
        status, headers, _ = served.preflight("/x", "PUT")
        assert status == 200
        assert header(headers, "Access-Control-Allow-Methods") == ["GET, PUT"]
        assert "PUT" in header(headers, "Allow")[0]


def test_raw_routes_send_exactly_their_headers_and_proxy_adds_more(tmp_path: Path) -> None:
    with serve(
        tmp_path,
        """
        title = "t"
        [backend]
        proxy_headers = [["Access-Control-Allow-Origin", "*"]]
        [[backend.routes]]
        path = "/raw"
        raw = true
        headers = [["Access-Control-Allow-Origin", "{request_origin}"], ["Access-Control-Allow-Origin", "{app}"]]
        preflight = { status = 204, headers = [["Access-Control-Allow-Methods", "PUT"]] }
    """
        + CASE,
    ) as served:
        _, headers, _ = served.request("GET", "/raw")
        assert header(headers, "Access-Control-Allow-Origin") == [served.urls["app"]] * 2 + ["*"]
        status, headers, _ = served.preflight("/raw", "PUT")
        assert status == 204 and header(headers, "Access-Control-Allow-Methods") == ["PUT"]


def test_actions_raise_abort_redirect_and_error_handlers(tmp_path: Path) -> None:
    with serve(
        tmp_path,
        """
        title = "t"
        [backend]
        cors = {}
        [[backend.routes]]
        path = "/boom"
        action = "raise"
        [[backend.routes]]
        path = "/gone"
        action = "abort"
        abort_status = 410
        [[backend.routes]]
        path = "/moved"
        action = "redirect"
        redirect_to = "{api}/gone"
        redirect_status = 307
        [[backend.error_handlers]]
        code = 410
        body = "custom gone"
    """
        + CASE,
    ) as served:
        assert served.request("GET", "/boom")[0] == 500
        status, _, body = served.request("GET", "/gone")
        assert (status, body) == (410, "custom gone")
        status, headers, _ = served.request("GET", "/moved?cors_lab=abc")
        assert status == 307
        assert header(headers, "Location") == [served.urls["api"] + "/gone?cors_lab=abc"]


def test_a_backend_that_cannot_be_built_is_a_build_error(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('title = "t"\n[backend]\n[[backend.routes]]\npath = "/x/<nosuchconverter:y>"\n' + CASE)
    scenario, problems = load_file(path)
    assert scenario is not None and not problems
    with pytest.raises(BackendBuildError, match="nosuchconverter"):
        build_app(scenario, {"app": "http://app.localhost:1", "api": "http://api.localhost:2"}, threading.Event())


def test_backends_are_built_one_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Browser workers build their scenarios' apps in threads; Werkzeug compiles rule builders with `ast`, which some
    CPython versions cannot do from several threads at once. Four builds asked for together run one after another."""
    from lab.backend import app as app_module

    path = tmp_path / "s.toml"
    path.write_text('title = "t"\n[backend]\n[[backend.routes]]\npath = "/x/<int:y>"\n' + CASE)
    scenario, problems = load_file(path)
    assert scenario is not None and not problems
    inside, most, guard = [0], [0], threading.Lock()
    original = app_module._build

    def tracked(*args, **kwargs):  # type: ignore[no-untyped-def]
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            threading.Event().wait(0.05)  # long enough for the other threads to arrive
            return original(*args, **kwargs)
        finally:
            with guard:
                inside[0] -= 1

    monkeypatch.setattr(app_module, "_build", tracked)
    start, built = threading.Barrier(4), []

    def build() -> None:
        start.wait()
        built.append(
            build_app(scenario, {"app": "http://app.localhost:1", "api": "http://api.localhost:2"}, threading.Event())
        )

    workers = [threading.Thread(target=build) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    assert len(built) == 4 and most[0] == 1, (len(built), most[0])


def test_an_exchange_and_a_row_serialise_every_field() -> None:
    """to_dict is written by hand (asdict's deep copy cost the lab CPU per cell): no field may be forgotten."""
    from dataclasses import asdict, fields

    from lab.backend.recorder import Exchange
    from lab.results import ResultRow

    exchange = Exchange("preflight", "OPTIONS", "/x", {"Origin": "http://a"}, 204, [("Vary", "Origin")], None)
    expected = asdict(exchange)
    expected["response_headers"] = [["Vary", "Origin"]]
    assert exchange.to_dict() == expected and list(exchange.to_dict()) == [f.name for f in fields(Exchange)]
    row = ResultRow("g/s", "g", "case", "chromium", "chromium", "allowed", "allowed", True, exchanges=[expected])
    assert row.to_dict() == asdict(row)
