"""One value of a cluster file, with the place it was written and its field path.

Every check in the parser raises through `node.fail(...)`, so an error names the file,
line, column and dotted field of the value at fault without threading positions through
every function. Nodes of several files (override files, `extends`, `include`) sit in one
tree and each still names its own file.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

from squall.errors import Location, SpecError

Scalar = str | int | float | bool | None
Value = Scalar | dict[str, "Node"] | list["Node"]

INT_MAX = 2**63 - 1
INT_MIN = -(2**63)
_MAX_DIGITS = 40
_INTEGER = re.compile(r"^\s*[-+]?[0-9]+\s*$")
_NUMBER = re.compile(r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$")
_TRUE = frozenset({"true", "yes", "y", "on"})
_FALSE = frozenset({"false", "no", "n", "off"})

RESET = "!reset"
OVERRIDE = "!override"
"""Compose's merge tags: drop the value merged so far, or replace it whole."""


@dataclass(frozen=True, eq=False, slots=True)
class Node:
    """One value of the file with its position (1-based) and its field path.

    `key_line`/`key_column` point at the key that names the value (for list items,
    the item itself); errors about a key and warnings use them.
    """

    value: Value
    source: Path
    field: str
    line: int
    column: int
    key_line: int
    key_column: int
    tag: str | None = None
    """`!reset` or `!override` where the file wrote one."""

    @property
    def location(self) -> Location:
        return Location(self.source, self.line, self.column)

    @property
    def key_location(self) -> Location:
        return Location(self.source, self.key_line, self.key_column)

    def fail(self, message: str, *, at_key: bool = False) -> NoReturn:
        """Raise the one-line `SpecError` for this value (or for its key)."""
        location = self.key_location if at_key else self.location
        raise SpecError(message, location, field=self.field or None)

    def warning(self, message: str) -> str:
        """The one-line warning `path:line: field: message` for this value."""
        return f"{self.source}:{self.key_line}: {self.field}: {message}"

    @property
    def kind(self) -> str:
        return _kind(self.value)

    def expected(self, what: str) -> NoReturn:
        self.fail(f"expected {what}, got {self.kind}")

    def mapping(self) -> dict[str, Node]:
        if isinstance(self.value, dict):
            return self.value
        self.expected("a mapping")

    def optional_mapping(self) -> dict[str, Node]:
        """A mapping, where `key:` with nothing after it means an empty one."""
        return {} if self.value is None else self.mapping()

    def sequence(self) -> list[Node]:
        if isinstance(self.value, list):
            return self.value
        self.expected("a list")

    def text(self) -> str:
        """A string; numbers are accepted as written (`image: 3`, `user: 1000`)."""
        value = self.value
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        self.expected("a string")

    def texts(self) -> list[str]:
        return [item.text() for item in self.sequence()]

    def text_or_texts(self) -> list[Node]:
        """Items of a list, or the node itself when one string stands for a list."""
        if isinstance(self.value, str):
            return [self]
        if isinstance(self.value, list):
            return self.value
        self.expected("a string or a list")

    def integer(self, minimum: int = INT_MIN, maximum: int = INT_MAX) -> int:
        """An integer within [minimum, maximum] (by default what a Go int64 holds, as
        Compose reads it)."""
        value = self.value
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and _INTEGER.match(value):
            number = int(value.strip(), 10) if len(value) <= _MAX_DIGITS else None
            if number is None:
                self.fail(f"integer out of range ({minimum} to {maximum})")
        if number is None:
            self.expected("an integer")
        if not minimum <= number <= maximum:
            self.fail(f"{number} is out of range ({minimum} to {maximum})")
        return number

    def number(self) -> float:
        value = self.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str) and len(value) <= _MAX_DIGITS and _NUMBER.match(value):
            number = float(value.strip())
        else:
            self.expected("a number")
        if not math.isfinite(number) or abs(number) > INT_MAX:
            self.fail(f"{value} is out of range")
        return number

    def ip_address(self) -> str:
        text = self.text()
        try:
            ipaddress.ip_address(text)
        except ValueError:
            self.fail(f"{text!r} is not an IP address")
        return text

    def boolean(self) -> bool:
        """A boolean; strings such as "true" count because interpolation yields strings."""
        value = self.value
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
        self.expected("a boolean")

    def plain(self) -> object:
        """The value as plain Python data (for blocks kept raw)."""
        if isinstance(self.value, dict):
            return {key: child.plain() for key, child in self.value.items()}
        if isinstance(self.value, list):
            return [child.plain() for child in self.value]
        return self.value

    def with_strings(self, change: Callable[[Node], str]) -> Node:
        """A copy in which every string value (not key) is replaced by `change(node)`."""
        if isinstance(self.value, dict):
            children = {key: child.with_strings(change) for key, child in self.value.items()}
            return replace(self, value=children)
        if isinstance(self.value, list):
            return replace(self, value=[child.with_strings(change) for child in self.value])
        if isinstance(self.value, str):
            return replace(self, value=change(self))
        return self


def suggestion(word: str, choices: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the closest choice, or nothing."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping"
