"""Read a YAML file into `Node`s that remember where each value was written.

ruamel's round-trip loader keeps line and column on its containers (`.lc`). Copying
them onto every node, with the dotted field path that leads to it, lets each check in
the parser point at the exact line with one call, `node.fail(...)`, instead of
threading positions through every function.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from squall.errors import Location, SpecError

Scalar = str | int | float | bool | None
Value = Scalar | dict[str, "Node"] | list["Node"]

_TRUE = frozenset({"true", "yes", "y", "on"})
_FALSE = frozenset({"false", "no", "n", "off"})


@dataclass(frozen=True, eq=False)
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

    def integer(self) -> int:
        value = self.value
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip(), 10)
            except ValueError:
                pass
        self.expected("an integer")

    def number(self) -> float:
        value = self.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        self.expected("a number")

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


def load_document(path: Path) -> Node:
    """Parse `path` into a `Node` tree whose root is a mapping.

    Raises:
        SpecError: the file cannot be read, is not YAML, has duplicate keys, or its
            top level is not a mapping.
    """
    top = Location(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text ({exc.reason})", top) from exc
    except OSError as exc:
        raise SpecError(f"cannot read the file: {exc.strerror or exc}", top) from exc
    try:
        data = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        raise _syntax_error(exc, path) from exc
    except YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", top) from exc
    if data is None:
        raise SpecError("the file is empty", top)
    root = _convert(data, path, "", (1, 1), (1, 1), ())
    if not isinstance(root.value, dict):
        root.expected("a mapping at the top level")
    return root


def _syntax_error(exc: MarkedYAMLError, path: Path) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    problem = " ".join(str(exc.problem or "invalid YAML").split())
    if exc.context:
        problem = f"{' '.join(str(exc.context).split())}: {problem}"
    if mark is None:
        return SpecError(problem, Location(path))
    return SpecError(problem, Location(path, mark.line + 1, mark.column + 1))


def _convert(
    data: object,
    source: Path,
    field: str,
    at: tuple[int, int],
    key_at: tuple[int, int],
    parents: tuple[int, ...],
) -> Node:
    def node(value: Value) -> Node:
        return Node(value, source, field, at[0], at[1], key_at[0], key_at[1])

    if id(data) in parents:  # ruamel yields null for such aliases today; never recurse forever
        node(None).fail("a YAML alias refers to itself")
    if isinstance(data, CommentedMap):
        return node(_convert_map(data, source, field, at, (*parents, id(data))))
    if isinstance(data, CommentedSeq):
        items = []
        for index, item in enumerate(data):
            item_at = _position(data, index, at)
            item_field = f"{field}[{index}]"
            items.append(_convert(item, source, item_field, item_at, item_at, (*parents, id(data))))
        return node(items)
    if isinstance(data, TaggedScalar):
        node(None).fail(f"the YAML tag {data.tag} is not supported")
    return node(_scalar(data))


def _convert_map(
    data: CommentedMap, source: Path, field: str, at: tuple[int, int], parents: tuple[int, ...]
) -> dict[str, Node]:
    children: dict[str, Node] = {}
    for key, value in data.items():
        key_at, value_at = _key_positions(data, key, at)
        if isinstance(key, CommentedMap | CommentedSeq):
            Node(None, source, field, *key_at, *key_at).fail("a key must be a plain value")
        name = _key_text(key)
        child_field = f"{field}.{name}" if field else name
        if name in children:
            Node(None, source, child_field, *key_at, *key_at).fail("duplicate key", at_key=True)
        if value is None:
            value_at = key_at
        children[name] = _convert(value, source, child_field, value_at, key_at, parents)
    return children


def _key_text(key: object) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def _scalar(data: object) -> Scalar:
    if data is None or isinstance(data, bool):
        return data
    if isinstance(data, int):
        return int(data)
    if isinstance(data, float):
        return float(data)
    return str(data)


def _position(data: CommentedSeq, index: int, fallback: tuple[int, int]) -> tuple[int, int]:
    try:
        line, column = data.lc.item(index)
    except (KeyError, TypeError):
        return fallback
    return line + 1, column + 1


def _key_positions(
    data: CommentedMap, key: object, fallback: tuple[int, int]
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Positions of a key and of its value; keys merged in with `<<:` have none of
    their own, so they point at the mapping that merged them."""
    try:
        key_line, key_column = data.lc.key(key)
        value_line, value_column = data.lc.value(key)
    except (KeyError, TypeError):
        start = (data.lc.line + 1, data.lc.col + 1) if data.lc.line is not None else fallback
        return start, start
    return (key_line + 1, key_column + 1), (value_line + 1, value_column + 1)
