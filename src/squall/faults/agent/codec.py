"""Fault data as JSON and back, for the agent's stdin and stdout.

Plans, observations and read-backs are frozen dataclasses of tuples, strings, numbers
and units; one generic codec, driven by their type hints, carries all of them, so a
new field travels to the agent without a line written for it.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def encode(value: object) -> Any:
    """Plain JSON data: dataclasses as objects of their init fields, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [encode(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): encode(item) for key, item in value.items()}
    return value


def decode(kind: type[T], raw: Any) -> T:
    """`raw` (from `encode`) back into `kind`.

    Raises:
        ValueError: `raw` does not have the shape of `kind`.
    """
    return typing.cast(T, _decode(kind, raw))


def _decode(kind: Any, raw: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return _union(kind, raw)
    if origin is typing.Literal:
        if raw not in typing.get_args(kind):
            raise ValueError(f"{raw!r} is not one of {typing.get_args(kind)}")
        return raw
    if origin is tuple:
        return _tuple(kind, raw)
    if origin in (dict, Mapping):
        key_kind, value_kind = typing.get_args(kind)
        return {_decode(key_kind, k): _decode(value_kind, v) for k, v in _object(kind, raw).items()}
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _dataclass(kind, raw)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(raw)
    return _scalar(kind, raw)


def _union(kind: Any, raw: Any) -> Any:
    options = typing.get_args(kind)
    if raw is None and type(None) in options:
        return None
    for option in options:
        if option is type(None):
            continue
        try:
            return _decode(option, raw)
        except (ValueError, TypeError, KeyError):
            continue
    raise ValueError(f"{raw!r} fits none of {kind}")


def _tuple(kind: Any, raw: Any) -> tuple[Any, ...]:
    args = typing.get_args(kind)
    if not isinstance(raw, list):
        raise ValueError(f"expected a list for {kind}, got {raw!r}")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_decode(args[0], item) for item in raw)
    return tuple(_decode(arg, item) for arg, item in zip(args, raw, strict=True))


def _object(kind: Any, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError(f"expected an object for {kind}, got {raw!r}")
    return raw


def _dataclass(kind: type[Any], raw: Any) -> Any:
    fields = _object(kind, raw)
    hints = typing.get_type_hints(kind)
    values = {
        f.name: _decode(hints[f.name], fields[f.name])
        for f in dataclasses.fields(kind)
        if f.init and f.name in fields
    }
    return kind(**values)


def _scalar(kind: Any, raw: Any) -> Any:
    if kind is Any or kind is object:
        return raw
    if kind is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(kind, type) and not isinstance(raw, kind):
        raise ValueError(f"expected {kind.__name__}, got {raw!r}")
    return raw
