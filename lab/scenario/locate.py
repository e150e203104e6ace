"""Find the line of a key in TOML source, so that errors can say `path:line`.

tomllib returns plain dicts without positions. This scanner reads the same text
line by line, follows `[table]` and `[[array.of.tables]]` headers and records the
line of every `key = value`. It is deliberately approximate (it is only used to
point a person at the right line) and never raises.
"""

from __future__ import annotations

import re
from typing import Dict, List, Tuple, Union

KeyPath = Tuple[Union[str, int], ...]

_BARE_OR_QUOTED = r'(?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\')'
_KEY = re.compile(r"^\s*(" + _BARE_OR_QUOTED + r"(?:\s*\.\s*" + _BARE_OR_QUOTED + r")*)\s*=")
_TABLE = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(?:#.*)?$")


def _split_key(text: str) -> List[str]:
    parts = re.findall(_BARE_OR_QUOTED, text)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


class KeyLines:
    """Line numbers (1-based) of the tables and keys of one TOML document."""

    def __init__(self, source: str) -> None:
        self._lines: Dict[KeyPath, int] = {}
        self._scan(source)

    def _scan(self, source: str) -> None:
        current: KeyPath = ()
        array_counts: Dict[KeyPath, int] = {}
        in_multiline = ""
        # Only "\n" ends a line: the file is read with universal newlines, and tomllib counts lines the same way
        # (str.splitlines would also break on \v, \f, \x1c..\x1e, \x85, \u2028, \u2029).
        for number, line in enumerate(source.split("\n"), start=1):
            if in_multiline:
                if line.count(in_multiline) % 2 == 1:
                    in_multiline = ""
                continue
            table = _TABLE.match(line)
            if table and not _KEY.match(line):
                names = _split_key(table.group(2))
                resolved = self._resolve(names, array_counts)
                if table.group(1) == "[[":
                    index = array_counts.get(resolved, 0)
                    array_counts[resolved] = index + 1
                    current = resolved + (index,)
                else:
                    current = resolved
                self._lines.setdefault(current, number)
                continue
            key = _KEY.match(line)
            if key:
                path = current + tuple(_split_key(key.group(1)))
                self._lines.setdefault(path, number)
                for quote in ('"""', "'''"):
                    if line.count(quote) % 2 == 1:
                        in_multiline = quote

    def _resolve(self, names: List[str], array_counts: Dict[KeyPath, int]) -> KeyPath:
        """Turn `a.b.c` into a path that goes through the latest element of each array table."""
        path: KeyPath = ()
        for position, name in enumerate(names):
            path = path + (name,)
            count = array_counts.get(path)
            if count and position < len(names) - 1:
                path = path + (count - 1,)
        return path

    def line_of(self, path: KeyPath) -> int:
        """The line of `path`, or of its nearest ancestor that has one; 0 when unknown."""
        probe = tuple(path)
        while probe:
            if probe in self._lines:
                return self._lines[probe]
            probe = probe[:-1]
        return 0
