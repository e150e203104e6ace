"""JSON commands and events over one WebSocket: what WebDriver BiDi (Firefox) and the Chrome DevTools Protocol
(Chromium) have in common, for the lab's own small clients of both.

A command is `{"id", "method", "params"}` (CDP adds a `sessionId` for a page); its answer carries the same id with
a `result` or an `error`; everything else with a `method` is an event. Commands are answered in order here: the
lab sends one at a time and dispatches the events that arrive while it waits.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Callable, Dict, Optional

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

EventHandler = Callable[[str, Dict[str, Any], Optional[str]], None]  # method, params, session id (CDP) or None


class ProtocolError(Exception):
    """A command failed, the browser did not answer in time, or the connection is gone."""


class JsonSocket:
    """One protocol connection. `failed` maps a session (a CDP page) that can no longer answer, for example because
    its renderer crashed, to why: a command waiting on it fails at once instead of at its timeout."""

    def __init__(self, url: str, on_event: EventHandler, timeout_s: float = 60.0) -> None:
        self._on_event = on_event
        self._next_id = 0
        self.timeout_s = timeout_s
        self.failed: Dict[str, str] = {}
        self._closing = contextlib.ExitStack()
        try:
            # No keep-alive pings: a browser busy with a long call is not a dead one (its calls have their own timeouts).
            self._socket: ClientConnection = self._closing.enter_context(
                connect(url, max_size=None, open_timeout=timeout_s, compression=None, ping_interval=None)
            )
        except (OSError, TimeoutError) as exc:
            raise ProtocolError(f"cannot connect to {url}: {exc}") from exc

    def command(
        self, method: str, params: Dict[str, Any], timeout_s: Optional[float] = None, session: Optional[str] = None
    ) -> Dict[str, Any]:
        """Send a command and wait for its answer (the events before it are dispatched on the way)."""
        command_id = self.send(method, params, session)
        timeout = timeout_s or self.timeout_s
        try:
            while True:
                answer = self._next(timeout, method)
                if answer.get("id") == command_id:
                    break
                if session is not None and session in self.failed:
                    raise ProtocolError(f"{method}: {self.failed[session]}")
        except ConnectionClosed as exc:
            raise ProtocolError(f"{method}: the browser closed the connection (it exited or crashed)") from exc
        error = answer.get("error")
        if error is not None or answer.get("type") == "error":
            said = error.get("message", "") if isinstance(error, dict) else f"{error}: {answer.get('message', '')}"
            raise ProtocolError(f"{method}: {said}".strip())
        return answer.get("result") or {}

    def send(self, method: str, params: Dict[str, Any], session: Optional[str] = None) -> int:
        """Send a command without waiting for its answer (which is skipped when it comes, unless `command` waits for
        it): its id. Alone, for commands sent from an event handler while another command waits."""
        self._next_id += 1
        message: Dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        try:
            self._socket.send(json.dumps(message))
        except ConnectionClosed as exc:
            raise ProtocolError(f"{method}: the browser closed the connection (it exited or crashed)") from exc
        return self._next_id

    def wait(
        self, done: Callable[[], bool], what: str, timeout_s: Optional[float] = None, session: Optional[str] = None
    ) -> None:
        """Dispatch events until `done()` says that the one awaited has arrived."""
        timeout = timeout_s or self.timeout_s
        try:
            while not done():
                if session is not None and session in self.failed:
                    raise ProtocolError(f"{what}: {self.failed[session]}")
                self._next(timeout, what)
        except ConnectionClosed as exc:
            raise ProtocolError(f"{what}: the browser closed the connection (it exited or crashed)") from exc

    def _next(self, timeout_s: float, what: str) -> Dict[str, Any]:
        """The next message; an event is dispatched before it is returned."""
        try:
            message = json.loads(self._socket.recv(timeout=timeout_s))
        except TimeoutError as exc:
            raise ProtocolError(f"{what}: no answer in {timeout_s:.0f} s") from exc
        if "method" in message and "id" not in message:
            self._on_event(message["method"], message.get("params") or {}, message.get("sessionId"))
        return message

    def close(self) -> None:
        try:
            self._closing.close()
        except Exception:
            pass  # closing a connection whose browser is gone
