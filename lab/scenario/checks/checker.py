"""The problem collector every table reader shares: typed look-ups that record what is wrong, and where, and go on."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Dict, Iterable, List, Sequence, Tuple

from ..locate import KeyLines, KeyPath
from ..model import Headers
from ..problems import Problem


class Checker:
    """Collects problems for one file while the loader walks its tables."""

    def __init__(self, path: Path, lines: KeyLines) -> None:
        self.path = path
        self.lines = lines
        self.problems: List[Problem] = []

    def fail(self, where: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.path, self.lines.line_of(where), message))

    def table(self, value: Any, where: KeyPath, allowed: Iterable[str], required: Iterable[str] = ()) -> Dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"{_name(where)} must be a table, not {_type(value)}")
            return {}
        allowed = tuple(allowed)
        for key in value:
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else f" (expected one of: {', '.join(allowed)})"
                self.fail(where + (key,), f"unknown key {key!r} in {_name(where)}{suggestion}")
        for key in required:
            if key not in value:
                self.fail(where, f"{_name(where)} is missing required key {key!r}")
        return value

    def array_of_tables(self, value: Any, where: KeyPath, header: str) -> List[Any]:
        """The items of a `[[header]]` array, or [] (with a problem) when it is written otherwise."""
        if not isinstance(value, list):
            self.fail(where, f"{_name(where)} must be written as [[{header}]] tables")
            return []
        return value

    def get(
        self,
        table: Dict[str, Any],
        key: str,
        where: KeyPath,
        kind: type,
        default: Any = None,
        choices: Sequence[Any] = (),
    ) -> Any:
        if key not in table:
            return default
        value = table[key]
        wrong_bool = kind is int and isinstance(value, bool)
        if not isinstance(value, kind) or wrong_bool:
            self.fail(where + (key,), f"{_name(where + (key,))} must be {_kind_name(kind)}, not {_type(value)}")
            return default
        if choices and value not in choices:
            self.fail(
                where + (key,), f"{_name(where + (key,))} is {value!r}; expected one of: {', '.join(map(str, choices))}"
            )
            return default
        return value

    def strings(
        self, table: Dict[str, Any], key: str, where: KeyPath, default: Tuple[str, ...] = ()
    ) -> Tuple[str, ...]:
        value = table.get(key, list(default))
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(where + (key,), f"{_name(where + (key,))} must be a string or a list of strings")
            return default
        return tuple(value)

    def headers(self, table: Dict[str, Any], key: str, where: KeyPath) -> Headers:
        """Headers as a table (`{Name = "v"}`) or as pairs (`[["Name", "v"], ...]`, duplicates kept)."""
        value = table.get(key)
        if value is None:
            return ()
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return self._sendable(tuple(value.items()), where + (key,))
        if isinstance(value, list) and all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in value
        ):
            return self._sendable(tuple((p[0], p[1]) for p in value), where + (key,))
        self.fail(
            where + (key,), f"{_name(where + (key,))} must be a table of strings or a list of [name, value] pairs"
        )
        return ()

    def _sendable(self, headers: Headers, where: KeyPath) -> Headers:
        """Response headers the server can put on the wire as written. A CR or LF would end the header line (Flask
        refuses to set such a header and answers 500), so it is refused here; a NUL or a name that is not a token does
        go out as written, and is how a scenario tests a response that is not valid HTTP (see lab/standard.py)."""
        for name, value in headers:
            for char, what in (("\r", "a CR"), ("\n", "an LF")):
                if char in name or char in value:
                    part = "name" if char in name else "value"
                    self.fail(
                        where + (name,),
                        f"response header {name!r} holds {what} in its {part}: on the wire it would end"
                        " the header line, so it can never be sent as one header (Flask refuses to"
                        " set it and answers 500); to test a response that is not valid HTTP, use"
                        ' a NUL ("\\u0000")',
                    )
                    break
        return headers


def _name(where: KeyPath) -> str:
    text = ""
    for part in where:
        text += f"[{part + 1}]" if isinstance(part, int) else (("." if text else "") + part)
    return f"`{text}`" if text else "the file"


def _type(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _kind_name(kind: type) -> str:
    return {bool: "a boolean (true or false)", int: "an integer", str: "a string", dict: "a table", list: "an array"}[
        kind
    ]
