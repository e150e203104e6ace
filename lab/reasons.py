"""The browser's own words for its cells: console messages matched to cells by the token they mention.

Messages arrive in any order and for cases still in flight: those no cell has claimed yet are kept, up to a limit.
"""

from __future__ import annotations

import time
from typing import List, Sequence

from .backend import TOKEN_PARAM
from .browsers.base import ConsoleMessage, Page
from .cell import browser_reason
from .results import ResultRow

KEPT_MESSAGES = 2000
"""Console messages kept for cases still in flight (they name their token); older ones are dropped."""


class ConsoleReasons:
    """Console messages of one browser not yet claimed by a cell."""

    def __init__(self, engine: str, silent: str = "") -> None:
        self.engine = engine
        self.silent = silent  # the browser (as driven) reports no reasons: why, said in each refused cell
        self._messages: List[ConsoleMessage] = []

    def attach(self, rows: List[ResultRow], pages: Sequence[Page]) -> List[ResultRow]:
        """Each cell gets the console messages that mention its token; a refused one the browser's reason."""
        tokens = {id(row): row.request.get("url", "").rsplit(f"{TOKEN_PARAM}=", 1)[-1] for row in rows}
        # An opaque response (no-cors, a manual redirect) was handed to the page: the browser refused nothing to explain.
        refused = [row for row in rows if row.outcome == "blocked" and row.exchanges and not row.response_type]
        # Asking a page for its messages costs a round trip (it flushes what the browser already sent): only when a
        # refused cell of an engine that reports reasons has to have one.
        wanted = bool(refused) and not self.silent
        self._messages += [m for page in pages for m in page.console(flush=wanted)]
        # Browsers report reasons asynchronously (a sandboxed iframe's console comes from another frame): when a refused
        # cell has none yet, give it up to half a second.
        for _ in range(10 if wanted else 0):
            silent = [row for row in refused if not any(m.mentions(tokens[id(row)]) for m in self._messages)]
            if not silent:
                break
            time.sleep(0.05)
            self._messages += [m for page in pages for m in page.console(flush=True)]
        claimed = set()
        for row in rows:
            token = tokens[id(row)]
            mine = [m for m in self._messages if token and m.mentions(token)]
            claimed.update(id(m) for m in mine)
            row.console = [m.text for m in mine]
            row.browser_reason = browser_reason(row.console, self.silent) if row.outcome == "blocked" else None
        self._messages = [m for m in self._messages if id(m) not in claimed][-KEPT_MESSAGES:]
        return rows
