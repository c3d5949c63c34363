"""A service's `volumes:` entries: binds, named volumes, anonymous volumes, tmpfs.

Short syntax follows compose-go: `SOURCE:TARGET[:MODE]`, or `TARGET` alone for an
anonymous volume; a source starting with `.`, `/` or `~` is a host path (resolved
against the project directory, without touching the filesystem), anything else names
a volume that the file must declare.
"""

from __future__ import annotations

import os.path
import posixpath
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from squall.spec.keys import IGNORED, MOUNT
from squall.spec.model import VolumeMount
from squall.spec.node import Node

_QUIET_MODES = frozenset({"ro", "rw"})
_IGNORED_MODES = frozenset(
    {"z", "Z", "nocopy", "cached", "delegated", "consistent"}
    | {"shared", "slave", "private", "rshared", "rslave", "rprivate"}
)
_SKIPPED_TYPES = frozenset({"cluster", "npipe", "image"})


@dataclass(frozen=True)
class MountContext:
    """What resolving a mount needs to know about the project."""

    project_dir: Path
    variables: Mapping[str, str]
    declared: Collection[str] | None
    """Top-level volume names; None means any name is allowed (v1 files declare none)."""
    warnings: list[str]


def parse_mounts(node: Node, context: MountContext) -> list[VolumeMount]:
    mounts: list[VolumeMount] = []
    for item in node.sequence():
        mount = _long(item, context) if isinstance(item.value, dict) else _short(item, context)
        if mount is not None:
            mounts.append(mount)
    return mounts


def host_path(node: Node, text: str, context: MountContext) -> str:
    """An absolute, normalised host path for a bind source."""
    if text == "~" or text.startswith("~/"):
        home = context.variables.get("HOME")
        if not home:
            node.fail(f"cannot expand '~' in {text!r}: HOME is not set")
        text = home + text[1:]
    return os.path.normpath(context.project_dir / text)


def _short(node: Node, context: MountContext) -> VolumeMount | None:
    text = node.text()
    parts = text.split(":")
    if len(parts) > 3:
        node.fail(f"invalid volume {text!r}: too many colons")
    if len(parts) > 1 and parts[0] == "":
        context.warnings.append(
            node.warning(f"{text!r} has an empty source (an unset variable?); mount ignored")
        )
        return None
    if "" in parts:
        node.fail(f"invalid volume {text!r}: empty section between colons")
    if len(parts) == 1:
        return VolumeMount(target=_target(node, parts[0]))
    source, target = parts[0], _target(node, parts[1])
    read_only = False
    if len(parts) == 3:
        read_only = _mode(node, parts[2], context)
    if source[0] in "./~":
        return VolumeMount(
            target=target,
            source=host_path(node, source, context),
            type="bind",
            read_only=read_only,
        )
    _check_declared(node, source, context)
    return VolumeMount(target=target, source=source, type="volume", read_only=read_only)


def _long(node: Node, context: MountContext) -> VolumeMount | None:
    entries = MOUNT.entries(node, context.warnings)
    for required in ("type", "target"):
        if required not in entries:
            node.fail(f"a volume mapping needs {required!r}")
    kind = entries["type"].text()
    if kind in _SKIPPED_TYPES:
        context.warnings.append(entries["type"].warning(f"type {kind!r} {IGNORED}"))
        return None
    target = _target(entries["target"], entries["target"].text())
    read_only = entries["read_only"].boolean() if "read_only" in entries else False
    source_node = entries.get("source")
    source = None if source_node is None or source_node.value is None else source_node.text()
    if kind == "bind":
        if source_node is None or not source:
            node.fail("a bind mount needs 'source'")
        resolved = host_path(source_node, source, context)
        return VolumeMount(target=target, source=resolved, type="bind", read_only=read_only)
    if kind == "volume":
        if source_node is not None and source:
            _check_declared(source_node, source, context)
        return VolumeMount(target=target, source=source or None, read_only=read_only)
    if kind == "tmpfs":
        return VolumeMount(target=target, type="tmpfs", read_only=read_only)
    entries["type"].fail(f"unknown mount type {kind!r} (expected bind, volume or tmpfs)")


def _target(node: Node, text: str) -> str:
    """An absolute container path, cleaned (`/data/` is `/data`, as Compose reads it)."""
    if not text.startswith("/"):
        node.fail(f"the container path {text!r} must be absolute")
    return posixpath.normpath(text)


def _mode(node: Node, text: str, context: MountContext) -> bool:
    read_only = False
    for option in text.split(","):
        if option == "ro":
            read_only = True
        elif option in _IGNORED_MODES:
            context.warnings.append(node.warning(f"mode {option!r} {IGNORED}"))
        elif option not in _QUIET_MODES:
            node.fail(f"unknown volume mode {option!r} (expected ro or rw)")
    return read_only


def _check_declared(node: Node, name: str, context: MountContext) -> None:
    if context.declared is not None and name not in context.declared:
        node.fail(f"volume {name!r} is not declared under the top-level 'volumes:'")
