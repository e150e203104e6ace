"""The lab's calls into its page (`lab/probe.js`), written once for every driver that runs a JavaScript function.

Pages are navigated without waiting for their load event (a round trip less): each call first waits for probe.js.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from typing import Any, Dict, List, Sequence

from .base import ConsoleMessage, Page
from .wire import ProtocolError

SLACK_S = 30.0  # beyond a call's own cases: the browser's answer may queue behind other work

READY = "for (let i = 0; !window.corsLabResults && i < 6000; i++) await new Promise(r => setTimeout(r, 5));"
PROBE_CALL = "async spec => { " + READY + " return window.corsLabProbe(spec); }"
START_CALL = "async specs => { " + READY + " return window.corsLabStart(specs); }"
# Results come back as one JSON string: the protocols serialise a string far more cheaply than nested objects.
RESULTS_CALL = "async tokens => { " + READY + " return JSON.stringify(await window.corsLabResults(tokens)); }"
RUN_CALL = (
    "async specs => { " + READY + " window.corsLabStart(specs);"
    " return JSON.stringify(await window.corsLabResults(specs.map(s => s.token))); }"
)


def longest_ms(specs: Sequence[Dict[str, Any]]) -> int:
    """How long cases started together can take in the page: the slowest one's fetches and pauses, every repeat."""
    return max(((s["timeout_ms"] + s.get("pause_ms", 0)) * s.get("repeat", 1) for s in specs), default=0)


class BrowserMessages:
    """The console messages a browser reported, from any tab or frame, that nobody took yet: the lab matches them to
    cases by token."""

    def __init__(self) -> None:
        self._messages: List[ConsoleMessage] = []

    def add(self, message: ConsoleMessage) -> None:
        self._messages.append(message)

    def take(self) -> List[ConsoleMessage]:
        messages, self._messages = self._messages, []
        return messages


class FunctionPage(Page):
    """A page whose driver runs one JavaScript function with one argument (the lab's CDP and BiDi clients): the four
    calls and the console are written here once; a driver says how it sends each function (`calls`), how it runs one
    (`_call`) and how it makes a round trip to the page (`_round_trip`)."""

    prompts_together = 0
    """Local-network requests with nobody to answer the permission prompt run at most this many at a time (0: all
    at once). Firefox needs 1: it shows a page's prompts one after another, and of several at once one now and then
    waits past the case's timeout (measured: 1 or 2 of 168 such cells a run, at any prompt timeout)."""

    calls: Dict[str, str]  # "probe", "start", "results", "run" -> the function as this driver sends it

    def __init__(self, messages: BrowserMessages) -> None:
        self._messages = messages

    @abstractmethod
    def _round_trip(self) -> None:
        """The cheapest command the page answers: messages the browser sent before its answer are delivered first."""

    @abstractmethod
    def _call(self, function: str, argument: Any, timeout_ms: int) -> Any:
        """Run `function(argument)` in the page, allowing the cases `timeout_ms` (plus SLACK_S); its value."""

    def probe(self, spec: Dict[str, Any]) -> Dict[str, Any]:
        value = self._call(self.calls["probe"], spec, spec["timeout_ms"])
        return json.loads(value) if isinstance(value, str) else value

    def start(self, specs: Sequence[Dict[str, Any]]) -> None:
        if any(spec.get("prompts") for spec in specs):
            self._to_front()
        self._call(self.calls["start"], list(specs), 0)

    def _to_front(self) -> None:
        """Bring the page's tab to the front before a permission prompt (Firefox shows prompts only there)."""

    def results(self, tokens: Sequence[str], timeout_ms: int) -> Dict[str, Any]:
        return json.loads(self._call(self.calls["results"], list(tokens), timeout_ms))

    def run(self, specs: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
        """Every case at once, except local-network requests that prompt: `prompts_together` at a time."""
        prompting = [spec for spec in specs if spec.get("prompts")]
        if prompting:
            self._to_front()
        batches = [list(specs)]
        size = self.prompts_together
        if size and len(prompting) > size:
            rest = [spec for spec in specs if not spec.get("prompts")]
            batches = [prompting[i : i + size] for i in range(0, len(prompting), size)]
            batches[0] = rest + batches[0]
        answers: Dict[str, Any] = {}
        for batch in batches:
            answers.update(json.loads(self._call(self.calls["run"], batch, longest_ms(batch))))
        return answers

    def console(self, flush: bool = True) -> List[ConsoleMessage]:
        if flush:
            try:
                self._round_trip()
            except ProtocolError:
                pass  # a closed or crashed page has nothing more to say
        return self._messages.take()
