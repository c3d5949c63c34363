"""Read a YAML file into `Node`s, within stated limits, whatever the file holds.

The tree is built here from the parser's event stream (libyaml's, through PyYAML)
rather than by a general YAML loader, for three reasons: every node gets its own
position; Compose's `!reset`/`!override` tags and `<<` merge keys are handled where
they are written; and hostile input is bounded. An alias is copied where it is used (so
each copy knows its own field path), and copies are counted: a "billion laughs" file
stops at a stated budget instead of filling memory. Depth is bounded before anything
recurses, and file and string sizes are checked before they are scanned further.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml
from yaml import events

from squall.errors import Location, SpecError
from squall.spec.node import OVERRIDE, RESET, Node, Scalar, Value

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STANDARD = "tag:yaml.org,2002:"
_MERGE_TAGS = frozenset({RESET, OVERRIDE})
_NULL = re.compile(r"^(~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*|0o?[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$"
)
_MAX_NUMBER_TEXT = 40  # longer digit strings stay text; `integer()` then says "out of range"


@dataclass(frozen=True)
class Limits:
    """What one cluster file may hold. Real compose files are far below each one.

    `alias_ratio` bounds the nodes that aliases produce per node the parser read
    (plus `alias_allowance`), so anchors reused by many services pass and a file whose
    aliases multiply each other stops at once.
    """

    file_bytes: int = 1024 * 1024
    string_chars: int = 256 * 1024
    depth: int = 64
    nodes: int = 100_000
    alias_ratio: int = 20
    alias_allowance: int = 10_000


DEFAULT_LIMITS = Limits()


def load_document(path: Path, limits: Limits = DEFAULT_LIMITS) -> Node:
    """Parse `path` into a `Node` tree whose root is a mapping.

    Raises:
        SpecError: the file cannot be read, is too large, is not YAML, goes past one of
            `limits`, has duplicate keys, or its top level is not a mapping.
    """
    top = Location(path)
    try:
        size = path.stat().st_size
        if size > limits.file_bytes:
            raise SpecError(f"the file has {size} bytes; at most {limits.file_bytes} are read", top)
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text ({exc.reason})", top) from exc
    except OSError as exc:
        raise SpecError(f"cannot read the file: {exc.strerror or exc}", top) from exc
    root = parse_text(text, path, limits)
    if root is None:
        raise SpecError("the file is empty", top)
    if not isinstance(root.value, dict):
        root.expected("a mapping at the top level")
    return root


def parse_text(text: str, path: Path, limits: Limits = DEFAULT_LIMITS) -> Node | None:
    """The one document of `text` (None when there is none), named as `path`."""
    if len(text) > limits.file_bytes:
        message = f"the text has {len(text)} characters; at most {limits.file_bytes} are read"
        raise SpecError(message, Location(path))
    builder = _Builder(path, limits)
    try:
        for event in _events(text):
            builder.feed(event)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, path) from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", Location(path)) from exc
    except RecursionError as exc:  # the parser is iterative; this is a last guard
        raise SpecError("the file nests too deeply", Location(path)) from exc
    return builder.root


def _events(text: str) -> Iterator[events.Event]:
    loader = _Loader(text)
    try:
        while loader.check_event():
            yield loader.get_event()
    finally:
        loader.dispose()


def _syntax_error(exc: yaml.MarkedYAMLError, path: Path) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    problem = " ".join(str(exc.problem or "invalid YAML").split())
    if exc.context:
        problem = f"{' '.join(str(exc.context).split())}: {problem}"
    if mark is None:
        return SpecError(problem, Location(path))
    return SpecError(problem, Location(path, mark.line + 1, mark.column + 1))


@dataclass
class _Frame:
    """A mapping or a sequence being built: where it is and what it holds so far."""

    node: Node  # value is None until it is complete
    anchor: str | None
    is_mapping: bool
    items: list[Node] = field(default_factory=list)
    entries: dict[str, Node] = field(default_factory=dict)
    merged: list[Node] = field(default_factory=list)  # mappings named by `<<:`
    key: Node | None = None  # the key waiting for its value (mappings only)
    height: int = 1  # levels of the tallest child, plus one


class _Builder:
    """Turns parser events into one `Node` tree, counting what it makes."""

    def __init__(self, source: Path, limits: Limits) -> None:
        self.source = source
        self.limits = limits
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Node, int]] = {}  # name -> (node, height)
        self.root: Node | None = None
        self.documents = 0
        self.read = 0
        self.copied = 0

    def fail_at(self, event: events.Event, message: str, field_path: str = "") -> SpecError:
        return SpecError(
            message, Location(self.source, *_position(event)), field=field_path or None
        )

    def place(self, event: events.Event) -> tuple[str, tuple[int, int], tuple[int, int]]:
        """(field path, value position, key position) of the node `event` starts.

        Values under a `<<` merge key take the path of the mapping they merge into.
        """
        at = _position(event)
        if not self.stack:
            return "", (1, 1), (1, 1)
        parent = self.stack[-1]
        if not parent.is_mapping:
            grand = self.stack[-2] if len(self.stack) > 1 else None
            if grand is not None and grand.key is not None and grand.key.value == "<<":
                return grand.node.field, at, at
            return f"{parent.node.field}[{len(parent.items)}]", at, at
        assert parent.key is not None
        name = str(parent.key.value)
        if name == "<<":
            return parent.node.field, at, (parent.key.line, parent.key.column)
        path = f"{parent.node.field}.{name}" if parent.node.field else name
        return path, at, (parent.key.line, parent.key.column)

    def count(self, event: events.Event) -> None:
        self.read += 1
        if self.read + self.copied > self.limits.nodes:
            raise self.fail_at(event, f"the file holds more than {self.limits.nodes} values")

    def feed(self, event: events.Event) -> None:
        if isinstance(event, events.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise self.fail_at(event, "a cluster file holds one YAML document (found a second)")
        elif isinstance(event, events.ScalarEvent):
            self.scalar(event)
        elif isinstance(event, events.AliasEvent):
            self.alias(event)
        elif isinstance(event, events.MappingStartEvent | events.SequenceStartEvent):
            self.start(event)
        elif isinstance(event, events.MappingEndEvent | events.SequenceEndEvent):
            self.end()

    def start(self, event: events.MappingStartEvent | events.SequenceStartEvent) -> None:
        self.count(event)
        parent = self.stack[-1] if self.stack else None
        if parent is not None and parent.is_mapping and parent.key is None:
            raise self.fail_at(event, "a key must be a plain value", parent.node.field)
        path, at, key_at = self.place(event)
        if len(self.stack) >= self.limits.depth:
            raise self.fail_at(event, f"values nest deeper than {self.limits.depth} levels", path)
        is_mapping = isinstance(event, events.MappingStartEvent)
        tag = self.tag(event, path, "map" if is_mapping else "seq")
        node = Node(None, self.source, path, *at, *key_at, tag=tag)
        self.stack.append(_Frame(node, event.anchor, is_mapping))

    def end(self) -> None:
        frame = self.stack.pop()
        value: Value
        if frame.is_mapping:
            value = frame.entries
            for merged in frame.merged:
                for key, child in merged.mapping().items():
                    value.setdefault(key, child)
        else:
            value = frame.items
        self.finish(replace(frame.node, value=value), frame.anchor, frame.height)

    def scalar(self, event: events.ScalarEvent) -> None:
        self.count(event)
        parent = self.stack[-1] if self.stack else None
        if len(event.value) > self.limits.string_chars:
            is_key = parent is not None and parent.is_mapping and parent.key is None
            where = parent.node.field if is_key and parent is not None else self.place(event)[0]
            raise self.fail_at(
                event, f"a string of more than {self.limits.string_chars} characters", where
            )
        if parent is not None and parent.is_mapping and parent.key is None:
            self.key(event, parent)
            return
        path, at, key_at = self.place(event)
        value = self.resolve(event, path)
        if value is None and event.value == "" and self.stack:
            at = key_at  # `key:` with nothing after it: point at the key
        tag = event.tag if event.tag in _MERGE_TAGS else None
        self.finish(Node(value, self.source, path, *at, *key_at, tag=tag), event.anchor, 0)

    def key(self, event: events.ScalarEvent, parent: _Frame) -> None:
        at = _position(event)
        name = _key_text(self.resolve(event, parent.node.field))
        path = f"{parent.node.field}.{name}" if parent.node.field else name
        if name in parent.entries or (name == "<<" and parent.merged):
            raise SpecError("duplicate key", Location(self.source, *at), field=path)
        parent.key = Node(name, self.source, path, *at, *at)

    def alias(self, event: events.AliasEvent) -> None:
        parent = self.stack[-1] if self.stack else None
        if parent is not None and parent.is_mapping and parent.key is None:
            raise self.fail_at(event, "an alias cannot be a key", parent.node.field)
        path, at, key_at = self.place(event)
        name = event.anchor or ""
        if name not in self.anchors:
            unfinished = any(frame.anchor == name for frame in self.stack)
            what = "refers to itself" if unfinished else "is not defined"
            raise self.fail_at(event, f"the YAML alias *{name} {what}", path)
        original, height = self.anchors[name]
        if len(self.stack) + height > self.limits.depth:
            raise self.fail_at(event, f"values nest deeper than {self.limits.depth} levels", path)
        budget = self.limits.alias_ratio * self.read + self.limits.alias_allowance
        copy = _Copier(self, event, budget).copy(original, path, at, key_at)
        self.finish(copy, None, height)

    def finish(self, node: Node, anchor: str | None, height: int) -> None:
        if anchor is not None:
            self.anchors[anchor] = (node, height)
        if not self.stack:
            self.root = node
            return
        parent = self.stack[-1]
        parent.height = max(parent.height, height + 1)
        if not parent.is_mapping:
            parent.items.append(node)
            return
        assert parent.key is not None
        name = str(parent.key.value)
        parent.key = None
        if name == "<<":
            parent.merged.extend(_merge_sources(node))
        else:
            parent.entries[name] = node

    def tag(
        self, event: events.MappingStartEvent | events.SequenceStartEvent, path: str, kind: str
    ) -> str | None:
        tag: str | None = event.tag
        if tag is None or tag in ("!", _STANDARD + kind):
            return None
        if tag in _MERGE_TAGS:
            return tag
        raise self.fail_at(event, f"the YAML tag {tag} is not supported", path)

    def resolve(self, event: events.ScalarEvent, path: str) -> Scalar:
        """The scalar's value under YAML 1.2's core schema, with octal `0440` as Go reads it."""
        text: str = event.value
        tag: str | None = event.tag
        plain = event.style in (None, "")
        if tag is None or tag in _MERGE_TAGS:
            return _implicit(text) if plain else text
        if tag in ("!", _STANDARD + "str"):
            return text
        value = _implicit(text)
        if tag == _STANDARD + "null" and value is None:
            return None
        if tag == _STANDARD + "bool" and isinstance(value, bool):
            return value
        if tag == _STANDARD + "int" and type(value) is int:
            return value
        if tag == _STANDARD + "float" and isinstance(value, int | float) and value is not True:
            return float(value)
        if tag.startswith(_STANDARD) and tag[len(_STANDARD) :] in ("null", "bool", "int", "float"):
            raise self.fail_at(event, f"the YAML tag {tag} does not fit {text[:40]!r}", path)
        raise self.fail_at(event, f"the YAML tag {tag} is not supported", path)


class _Copier:
    """Copies an anchored node where an alias uses it, with the field path of the use."""

    def __init__(self, builder: _Builder, event: events.AliasEvent, budget: int) -> None:
        self.builder = builder
        self.event = event
        self.budget = budget

    def copy(self, node: Node, path: str, at: tuple[int, int], key_at: tuple[int, int]) -> Node:
        builder = self.builder
        builder.copied += 1
        if builder.copied > self.budget or builder.read + builder.copied > builder.limits.nodes:
            raise builder.fail_at(
                self.event,
                f"YAML aliases expand to more than {self.budget} values"
                f" ({builder.limits.alias_ratio} per value read, a 'billion laughs'?)",
                path,
            )
        value: Value = node.value
        if isinstance(value, dict):
            value = {
                key: self.copy(child, _join(path, key), _at(child), _key_at(child))
                for key, child in value.items()
            }
        elif isinstance(value, list):
            value = [
                self.copy(child, f"{path}[{index}]", _at(child), _at(child))
                for index, child in enumerate(value)
            ]
        line, column = at
        key_line, key_column = key_at
        return replace(
            node,
            value=value,
            field=path,
            line=line,
            column=column,
            key_line=key_line,
            key_column=key_column,
        )


def _position(event: events.Event) -> tuple[int, int]:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _at(node: Node) -> tuple[int, int]:
    return node.line, node.column


def _key_at(node: Node) -> tuple[int, int]:
    return node.key_line, node.key_column


def _merge_sources(node: Node) -> list[Node]:
    """The mappings a `<<:` value names: one mapping, or a list of them (first wins)."""
    if isinstance(node.value, dict):
        return [node]
    if isinstance(node.value, list) and all(isinstance(item.value, dict) for item in node.value):
        return list(node.value)
    node.fail("'<<' merges a mapping or a list of mappings")


def _implicit(text: str) -> Scalar:
    if _NULL.match(text):
        return None
    if _BOOL.match(text):
        return text.lower() == "true"
    if len(text) <= _MAX_NUMBER_TEXT:
        if _INT.match(text):
            return _int(text)
        if _FLOAT.match(text):
            return _float(text)
    return text


def _int(text: str) -> int:
    """Decimal, `0x` hex, and octal as `0o17` or (like Go's YAML, and Compose) `017`."""
    digits = text.lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    if digits[:2] in ("0x", "0o"):
        return sign * int(digits[2:], 16 if digits[1] == "x" else 8)
    if len(digits) > 1 and digits.startswith("0"):
        return sign * int(digits[1:], 8)
    return sign * int(digits, 10)


def _float(text: str) -> float:
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return float(text)


def _key_text(key: Scalar) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)
