"""Compose's merge rules, on `Node` trees: for file sets, `extends` and `include`.

As the compose spec's merge section says: mappings merge by key; sequences append;
`command`, `entrypoint` and `healthcheck.test` are replaced; `environment`, `labels`
and the other list-or-mapping blocks merge by key; `ports`, `volumes`, `secrets` and
`configs` merge by their unique key (a later entry replaces an earlier one in place);
`dns`, `tmpfs`, `env_file` and friends append without repeats. `!override` replaces a
value whole and `!reset` removes it; `clean()` applies what is left of both once every
file is merged. Nodes keep the file and line they came from, so an error after the
merge still points at the file that wrote the value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from squall.spec.node import OVERRIDE, RESET, Node

Merger = Callable[[Node, Node], Node]

_BY_KEY = frozenset(
    (
        "environment",
        "labels",
        "annotations",
        "sysctls",
        "extra_hosts",
        "build.args",
        "build.labels",
        "deploy.labels",
        "logging.options",
    )
)
_REPLACED = frozenset({"command", "entrypoint", "healthcheck.test", "extends"})
_UNIQUE_ITEMS = frozenset(
    (
        "dns",
        "dns_search",
        "dns_opt",
        "tmpfs",
        "env_file",
        "expose",
        "profiles",
        "cap_add",
        "cap_drop",
        "security_opt",
        "group_add",
        "device_cgroup_rules",
        "external_links",
    )
)
_LIST_AS_MAPPING = frozenset({"depends_on", "networks"})


def merge_files(base: Node, override: Node) -> Node:
    """One file's top level merged over the files before it."""

    def child(key: str, old: Node, new: Node) -> Node:
        if key == "services":
            return _merge_named(old, new, merge_service)
        if key in ("networks", "volumes", "secrets", "configs"):
            return _merge_named(old, new, lambda a, b: _merge(a, b, ""))
        return _merge(old, new, "")

    return _merge_mappings(base, override, child)


def merge_service(base: Node, override: Node) -> Node:
    """Service `override` merged over service `base` (files in order, or `extends`)."""
    return _merge(base, override, "")


def clean(node: Node) -> Node:
    """`node` without the values marked `!reset` (nothing left to reset) and tags."""
    value = node.value
    if isinstance(value, dict):
        value = {key: clean(child) for key, child in value.items() if child.tag != RESET}
    elif isinstance(value, list):
        value = [clean(child) for child in value if child.tag != RESET]
    return replace(node, value=value, tag=None)


def _merge(base: Node, override: Node, path: str) -> Node:
    """The service-level rules; `path` is the key path inside a service (`build.args`)."""
    if override.tag in (OVERRIDE, RESET) or path in _REPLACED:
        return override
    if path in _BY_KEY:
        separator = ":" if path == "extra_hosts" else "="
        return _merge_mappings(
            _as_mapping(base, separator), _as_mapping(override, separator), _replace_child
        )
    if path in _LIST_AS_MAPPING:
        return _merge_mappings(_names(base), _names(override), lambda k, a, b: _merge(a, b, "*"))
    if path == "build":
        base, override = _build(base), _build(override)
    if path == "logging":
        return _logging(base, override)
    if path == "ulimits":
        return _merge_mappings(base, override, _replace_child)
    if isinstance(base.value, dict) and isinstance(override.value, dict):
        return _merge_mappings(base, override, lambda k, a, b: _merge(a, b, _join(path, k)))
    if isinstance(base.value, list) and isinstance(override.value, list):
        return _merge_lists(base, override, _unique_key(path))
    return override


def _join(path: str, key: str) -> str:
    return key if not path or path == "*" else f"{path}.{key}"


def _replace_child(key: str, base: Node, override: Node) -> Node:
    return override


def _merge_mappings(base: Node, override: Node, child: Callable[[str, Node, Node], Node]) -> Node:
    if not isinstance(base.value, dict) or not isinstance(override.value, dict):
        return override
    merged = dict(base.value)
    for key, new in override.value.items():
        old = merged.get(key)
        if new.tag == RESET:
            merged.pop(key, None)
        elif old is None:
            merged[key] = new
        else:
            merged[key] = child(key, old, new)
    return replace(base, value=merged, tag=None)


def _merge_named(base: Node, override: Node, merge: Merger) -> Node:
    """`services:`, `networks:`...: entries of the same name merge, others are added."""
    return _merge_mappings(base, override, lambda key, old, new: merge(old, new))


def _merge_lists(base: Node, override: Node, key: Callable[[Node], object] | None) -> Node:
    assert isinstance(base.value, list) and isinstance(override.value, list)
    items = list(base.value)
    if key is None:
        items.extend(item for item in override.value if item.tag != RESET)
        return replace(base, value=items, tag=None)
    where = {key(item): index for index, item in enumerate(items)}
    for item in override.value:
        if item.tag == RESET:
            continue
        identity = key(item)
        if identity in where:
            items[where[identity]] = item
        else:
            where[identity] = len(items)
            items.append(item)
    return replace(base, value=items, tag=None)


def _unique_key(path: str) -> Callable[[Node], object] | None:
    if path == "volumes":
        return _mount_target
    if path in ("secrets", "configs"):
        return _file_target
    if path == "ports" or path in _UNIQUE_ITEMS:
        return _plain_key
    return None


def _plain_key(node: Node) -> object:
    return repr(node.plain())


def _mount_target(node: Node) -> object:
    """A volume entry's container path: the unique key Compose merges volumes by."""
    if isinstance(node.value, dict):
        target = node.value.get("target")
        return target.value if target is not None else _plain_key(node)
    if isinstance(node.value, str):
        parts = node.value.split(":")
        return parts[1] if len(parts) > 1 else parts[0]
    return _plain_key(node)


def _file_target(node: Node) -> object:
    """A secret or config entry's target (its source when no target is written)."""
    if isinstance(node.value, dict):
        for key in ("target", "source"):
            found = node.value.get(key)
            if found is not None:
                return found.value
    return node.value if isinstance(node.value, str) else _plain_key(node)


def _as_mapping(node: Node, separator: str) -> Node:
    """A list-or-mapping block (`- KEY=VALUE` items) as a mapping, to merge by key;
    `extra_hosts` items are `host:ip` (or `host=ip`)."""
    if not isinstance(node.value, list):
        return node
    entries: dict[str, Node] = {}
    for item in node.value:
        if not isinstance(item.value, str):
            return node  # wrong types are reported by the parser, at their line
        key, sep, value = item.value.partition("=")
        if not sep and separator != "=":
            key, sep, value = item.value.partition(separator)
        entries[key] = replace(item, value=value if sep else None, field=f"{node.field}.{key}")
    return replace(node, value=entries)


def _names(node: Node) -> Node:
    """`depends_on` / `networks` written as a list of names, as a mapping."""
    if not isinstance(node.value, list):
        return node
    entries: dict[str, Node] = {}
    for item in node.value:
        if not isinstance(item.value, str):
            return node
        entries[item.value] = replace(item, value=None, field=f"{node.field}.{item.value}")
    return replace(node, value=entries)


def _build(node: Node) -> Node:
    if isinstance(node.value, str):
        return replace(node, value={"context": replace(node, field=f"{node.field}.context")})
    return node


def _logging(base: Node, override: Node) -> Node:
    """Another driver replaces the whole block; the same (or none) merges options."""
    if isinstance(base.value, dict) and isinstance(override.value, dict):
        old, new = base.value.get("driver"), override.value.get("driver")
        if old is not None and new is not None and old.value != new.value:
            return override
        return _merge_mappings(base, override, lambda k, a, b: _merge(a, b, f"logging.{k}"))
    return override
