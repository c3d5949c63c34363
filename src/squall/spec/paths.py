"""Relative paths of a service written in another folder, made absolute there.

Paths in every file of a file set start at the project directory (Compose's rule for
override files). A service brought in by `extends: {file: ...}` or `include` was
written for its own folder, so before it joins the model its relative paths (build
context, bind sources, env files, secret and config files) are rewritten against that
folder, as compose-go does.
"""

from __future__ import annotations

import os.path
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from squall.spec.node import Node

_REMOTE = ("http://", "https://", "git://", "git@", "github.com/", "ssh://")


def rebase_service(node: Node, base: Path) -> Node:
    """Service `node` with its relative paths made absolute against `base`."""
    entries = node.value
    if not isinstance(entries, dict):
        return node
    changed = dict(entries)
    if "build" in changed:
        changed["build"] = _build(changed["build"], base)
    if "volumes" in changed:
        changed["volumes"] = _each(changed["volumes"], lambda item: _volume(item, base))
    if "env_file" in changed:
        changed["env_file"] = _env_files(changed["env_file"], base)
    return replace(node, value=changed)


def rebase_files(node: Node, base: Path) -> Node:
    """A top-level `secrets:` or `configs:` block with each `file:` made absolute."""
    if not isinstance(node.value, dict):
        return node
    changed = {}
    for name, entry in node.value.items():
        if isinstance(entry.value, dict) and "file" in entry.value:
            changed[name] = replace(
                entry, value={**entry.value, "file": _path(entry.value["file"], base)}
            )
        else:
            changed[name] = entry
    return replace(node, value=changed)


def _absolute(text: str, base: Path) -> str:
    if os.path.isabs(text) or text.startswith("~"):
        return text
    return os.path.normpath(base / text)


def _path(node: Node, base: Path) -> Node:
    if isinstance(node.value, str):
        return replace(node, value=_absolute(node.value, base))
    return node


def _each(node: Node, change: Callable[[Node], Node]) -> Node:
    if not isinstance(node.value, list):
        return node
    return replace(node, value=[change(item) for item in node.value])


def _build(node: Node, base: Path) -> Node:
    if isinstance(node.value, str):
        return node if node.value.startswith(_REMOTE) else _path(node, base)
    if isinstance(node.value, dict):
        context = node.value.get("context")
        if context is None:
            context = replace(node, value=".", field=f"{node.field}.context")
        if isinstance(context.value, str) and not context.value.startswith(_REMOTE):
            return replace(node, value={**node.value, "context": _path(context, base)})
    return node


def _volume(node: Node, base: Path) -> Node:
    if isinstance(node.value, str):
        text, sep, rest = node.value.partition(":")
        if sep and text.startswith("."):
            return replace(node, value=f"{_absolute(text, base)}:{rest}")
        return node
    if isinstance(node.value, dict):
        kind, source = node.value.get("type"), node.value.get("source")
        if kind is not None and kind.value == "bind" and source is not None:
            return replace(node, value={**node.value, "source": _path(source, base)})
    return node


def _env_files(node: Node, base: Path) -> Node:
    if isinstance(node.value, str):
        return _path(node, base)

    def one(item: Node) -> Node:
        if isinstance(item.value, dict) and "path" in item.value:
            return replace(item, value={**item.value, "path": _path(item.value["path"], base)})
        return _path(item, base)

    return _each(node, one)
