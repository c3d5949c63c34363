"""Blockade's `blockade.yml` -> `ClusterSpec`, so Blockade users can move over unchanged.

Semantics follow Blockade's own `config.py`:
- `count: N` makes containers `name_1` .. `name_N` (and `container_name_1` ..), with
  N from 1 to `MAX_COUNT`;
- `ports` maps host port -> container port (a list item publishes the same port),
  and every published container port is also exposed;
- `volumes` maps host path -> container path (a list item mounts the same path);
- `links` (list, or map name -> alias) also set the start order;
- only `${VAR}` in environment entries and volume host paths is substituted (from
  the environment; `PWD`/`CWD` default to the file's directory, where Blockade used
  its working directory); a `command` is never interpolated, because its `$VARS` are
  the shell's, set at run time (legacy link variables such as `$SERVER_PORT_...`);
- `network:` holds the fault presets and the driver; `default` and `udn` both put
  every container on one user-defined network, named `default` here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from squall.spec.graph import check_acyclic
from squall.spec.keys import BLOCKADE_CONTAINER, BLOCKADE_NETWORK, BLOCKADE_TOP_LEVEL
from squall.spec.model import (
    DEFAULT_NETWORK,
    ClusterSpec,
    Dependency,
    Link,
    NetworkSpec,
    PortMapping,
    ServiceNetwork,
    ServiceSpec,
    SquallOptions,
    VolumeMount,
)
from squall.spec.mounts import MountContext, host_path
from squall.spec.node import Node, suggestion
from squall.spec.options import read_presets
from squall.spec.ports import parse_expose, parse_port_spec
from squall.spec.project import project_name
from squall.spec.service import check_name
from squall.spec.values import split_command

_VARIABLE = re.compile(r"\$\{([a-zA-Z][-_a-zA-Z0-9]*)\}")
_DRIVERS = ("default", "udn")
MAX_COUNT = 100
"""Most containers one `count:` makes (Blockade clusters are a handful of nodes)."""


@dataclass(frozen=True)
class _Instance:
    """One container a `containers:` entry stands for (several with `count`)."""

    name: str
    index: int | None
    node: Node


def load_blockade(root: Node, *, project: str | None, environ: Mapping[str, str]) -> ClusterSpec:
    """Raises: SpecError at the first problem, naming its file, line and field."""
    source = root.source
    warnings: list[str] = []
    entries = BLOCKADE_TOP_LEVEL.entries(root, warnings)
    containers = entries["containers"].optional_mapping()
    if not containers:
        entries["containers"].fail("no containers defined")
    variables = {"PWD": str(source.parent), "CWD": str(source.parent), **environ}
    mounts = MountContext(source.parent, variables, None, warnings)
    instances = [
        instance for name, node in containers.items() for instance in _instances(name, node)
    ]
    names = frozenset(instance.name for instance in instances)
    services = [_service(instance, names, mounts) for instance in instances]
    _check_container_names(services, instances)
    check_acyclic(services, "containers.")
    return ClusterSpec(
        name=project_name(project, None, environ, source.parent),
        source=source,
        format="blockade",
        services=tuple(sorted(services, key=lambda s: s.name)),
        networks=(NetworkSpec(DEFAULT_NETWORK),),
        options=_options(entries.get("network"), warnings),
        warnings=tuple(warnings),
    )


def _instances(name: str, node: Node) -> list[_Instance]:
    check_name(name, node, "container")
    count_node = node.mapping().get("count")
    count = 1 if count_node is None else count_node.integer(1, MAX_COUNT)
    if count == 1:
        return [_Instance(name, None, node)]
    return [_Instance(f"{name}_{index}", index, node) for index in range(1, count + 1)]


def _service(instance: _Instance, names: frozenset[str], mounts: MountContext) -> ServiceSpec:
    node = instance.node
    entries = BLOCKADE_CONTAINER.entries(node, mounts.warnings)
    if "image" not in entries:
        node.fail("a container needs 'image'", at_key=True)
    holy = entries["holy"].boolean() if "holy" in entries else False
    neutral = entries["neutral"].boolean() if "neutral" in entries else False
    if holy and neutral:
        entries["neutral"].fail("a container cannot be both 'holy' and 'neutral'")
    links = _links(entries["links"], names) if "links" in entries else []
    ports = _ports(entries["ports"]) if "ports" in entries else []
    expose = set(parse_expose(entries["expose"])) if "expose" in entries else set()
    expose.update(port.target for port in ports)
    container_name = None
    if "container_name" in entries:
        container_name = entries["container_name"].text()
        if instance.index is not None:
            container_name = f"{container_name}_{instance.index}"
    return ServiceSpec(
        name=instance.name,
        location=node.key_location,
        image=entries["image"].text(),
        command=split_command(entries["command"]) if "command" in entries else None,
        environment=_environment(entries["environment"], mounts.variables)
        if "environment" in entries
        else {},
        ports=tuple(ports),
        expose=tuple(sorted(expose)),
        volumes=tuple(_volumes(entries["volumes"], mounts)) if "volumes" in entries else (),
        networks=(ServiceNetwork(DEFAULT_NETWORK),),
        depends_on=tuple(Dependency(link.service, location=link.location) for link in links),
        links=tuple(links),
        hostname=entries["hostname"].text() if "hostname" in entries else None,
        container_name=container_name,
        cap_add=tuple(entries["cap_add"].texts()) if "cap_add" in entries else (),
        start_delay=_start_delay(entries["start_delay"]) if "start_delay" in entries else 0.0,
        holy=holy,
        neutral=neutral,
    )


def _pairs(node: Node) -> list[tuple[Node, str, str]]:
    """Blockade's `_dictify`: a list item maps to itself, a mapping key to its value
    (a null value to the key)."""
    if isinstance(node.value, list):
        return [(item, item.text(), item.text()) for item in node.value]
    return [
        (item, key, key if item.value is None else item.text())
        for key, item in node.mapping().items()
    ]


def _links(node: Node, names: frozenset[str]) -> list[Link]:
    links = []
    for item, target, alias in _pairs(node):
        if target not in names:
            item.fail(f"unknown container {target!r}{suggestion(target, names)}")
        links.append(Link(target, alias, location=item.key_location))
    return links


def _ports(node: Node) -> list[PortMapping]:
    result = []
    for item, host, container in _pairs(node):
        host_port = host.partition("/")[0]
        try:
            result.extend(parse_port_spec(f"{host_port}:{container}"))
        except ValueError as exc:
            item.fail(str(exc))
    return result


def _volumes(node: Node, mounts: MountContext) -> list[VolumeMount]:
    result = []
    for item, host, container in _pairs(node):
        if not container.startswith("/"):
            item.fail(f"the container path {container!r} must be absolute")
        source = host_path(item, _substitute(item, host, mounts.variables), mounts)
        result.append(VolumeMount(target=container, source=source, type="bind"))
    return result


def _environment(node: Node, variables: Mapping[str, str]) -> dict[str, str]:
    result = {}
    for key, item in node.mapping().items():
        value = key if item.value is None else _text(item)
        result[_substitute(item, key, variables)] = _substitute(item, value, variables)
    return result


def _text(node: Node) -> str:
    if isinstance(node.value, bool):
        return "true" if node.value else "false"
    return node.text()


def _substitute(node: Node, text: str, variables: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        found = variables.get(match.group(1))
        if not found:
            node.fail(f"there is no environment variable '${match.group(1)}'")
        return found

    return _VARIABLE.sub(value, text)


def _start_delay(node: Node) -> float:
    delay = node.number()
    if delay < 0:
        node.fail("'start_delay' must not be negative")
    return delay


def _check_container_names(services: list[ServiceSpec], instances: list[_Instance]) -> None:
    seen: dict[str, str] = {}
    for service, instance in zip(services, instances, strict=True):
        name = service.container_name
        if name is None:
            continue
        if name in seen:
            instance.node.mapping()["container_name"].fail(
                f"container name {name!r} is already used by container {seen[name]!r}"
            )
        seen[name] = service.name


def _options(node: Node | None, warnings: list[str]) -> SquallOptions:
    if node is None:
        return SquallOptions()
    entries = BLOCKADE_NETWORK.entries(node, warnings)
    if "driver" in entries:
        driver = entries["driver"].text()
        if driver not in _DRIVERS:
            entries["driver"].fail(f"unknown driver {driver!r} (expected default or udn)")
    raw = node.plain()
    return SquallOptions(
        presets=read_presets(entries), raw={"network": raw} if raw is not None else {}
    )
