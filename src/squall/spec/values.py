"""Value shapes shared by every block: commands, list-or-mapping blocks, durations."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from squall.spec.node import Node

_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
MAX_DURATION = 10 * 365 * 86400.0
"""Longest duration read (ten years): Go's time.Duration holds about 292 years."""


def split_command(node: Node) -> tuple[str, ...]:
    """A command as argv: a string is split like a shell would (quotes, no expansion)."""
    if isinstance(node.value, str):
        try:
            return tuple(shlex.split(node.value))
        except ValueError as exc:
            node.fail(f"cannot split the command: {exc}")
    return tuple(node.texts())


def key_values(node: Node, variables: Mapping[str, str] | None = None) -> dict[str, str]:
    """A `list_or_dict` block (`environment`, `labels`, `args`) as a mapping.

    With `variables`, an entry without a value (`- KEY`, `KEY:`) takes the variable's
    value and is left out when the variable is unset (environment, build args);
    without, it becomes "" (labels).
    """
    result: dict[str, str] = {}
    if isinstance(node.value, list):
        for item in node.value:
            key, sep, value = item.text().partition("=")
            if not key:
                item.fail(f"expected KEY=VALUE, got {item.text()!r}")
            _set(result, key, value if sep else None, variables)
        return result
    for key, item in node.optional_mapping().items():
        _set(result, key, _scalar_text(item), variables)
    return result


def _set(
    result: dict[str, str], key: str, value: str | None, variables: Mapping[str, str] | None
) -> None:
    if value is None:
        value = "" if variables is None else variables.get(key)
    if value is not None:
        result[key] = value


def _scalar_text(node: Node) -> str | None:
    if node.value is None:
        return None
    if isinstance(node.value, bool):
        return "true" if node.value else "false"
    return node.text()


def duration(node: Node) -> float:
    """A Compose (Go) duration such as `1m30s`, `10s` or `500ms`, in seconds."""
    value = node.value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = node.number()
        if not 0 <= seconds <= MAX_DURATION:
            node.fail(f"duration {value} is out of range (0 to ten years, in seconds)")
        return seconds
    text = node.text().strip()
    position = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not text or position != len(text) or len(text) > 64:
        node.fail(f"invalid duration {text[:64]!r} (examples: 10s, 1m30s, 500ms)")
    if total > MAX_DURATION:
        node.fail(f"duration {text!r} is longer than ten years")
    return total
