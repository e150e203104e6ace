"""Serve a scenario's backend on real loopback servers and talk HTTP to it, without a browser."""

from __future__ import annotations

import http.client
import textwrap
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from lab.backend import Recorder, build_app
from lab.scenario import load_file
from lab.servers import OriginPool


class Served:
    def __init__(self, urls: Dict[str, str], recorder: Recorder) -> None:
        self.urls = urls
        self.recorder = recorder

    def request(
        self,
        method: str,
        path: str,
        origin: Optional[str] = "app",
        headers: Optional[Dict[str, str]] = None,
        target: str = "api",
    ) -> Tuple[int, List[Tuple[str, str]], str]:
        host_port = self.urls[target].split("://", 1)[1]
        host, port = host_port.rsplit(":", 1)
        connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
        sent = {"Host": host_port}
        if origin is not None:
            sent["Origin"] = self.urls.get(origin, origin)
        sent.update(headers or {})
        connection.request(method, path, headers=sent)
        response = connection.getresponse()
        body = response.read().decode()
        connection.close()
        return response.status, response.getheaders(), body

    def preflight(
        self, path: str, method: str, origin: str = "app", request_headers: str = ""
    ) -> Tuple[int, List[Tuple[str, str]], str]:
        headers = {"Access-Control-Request-Method": method}
        if request_headers:
            headers["Access-Control-Request-Headers"] = request_headers
        return self.request("OPTIONS", path, origin, headers)


def header(headers: List[Tuple[str, str]], name: str) -> List[str]:
    return [v for k, v in headers if k.lower() == name.lower()]


@contextmanager
def serve(tmp_path: Path, text: str) -> Iterator[Served]:
    path = tmp_path / "scenario.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    scenario, problems = load_file(path)
    assert not problems, problems
    assert scenario is not None
    pool = OriginPool()
    stopping = threading.Event()
    try:
        urls = pool.urls(scenario.origins)
        recorder = Recorder(build_app(scenario, urls, stopping), scenario.backend.proxy_headers)
        pool.attach("", recorder)
        yield Served(urls, recorder)
    finally:
        stopping.set()
        pool.close()
