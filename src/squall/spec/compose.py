"""A merged compose tree (compose spec, or legacy v1 with services at the top) -> `ClusterSpec`.

Order matters and follows Compose: the files were interpolated and merged first
(`assemble.py`), then types are checked here; networks, volumes, secrets and configs
are read before services so a service's reference to them is checked where it is
written; profiles and scale overrides choose the services last.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from squall.spec.graph import check_acyclic
from squall.spec.hosts import with_hosts
from squall.spec.keys import EXTERNAL, IPAM, IPAM_CONFIG, NETWORK, TOP_LEVEL, VOLUME
from squall.spec.model import (
    DEFAULT_NETWORK,
    ClusterSpec,
    NetworkSpec,
    ServiceSpec,
    VolumeSpec,
)
from squall.spec.mounts import MountContext
from squall.spec.node import Node
from squall.spec.options import squall_options
from squall.spec.profiles import Selection, select
from squall.spec.project import project_name
from squall.spec.secrets import parse_files
from squall.spec.service import ServiceContext, check_name, parse_service
from squall.spec.values import key_values

SQUALL_BLOCK = "x-squall"
MODEL_BLOCKS = ("services", "networks", "volumes", "secrets", "configs")


@dataclass(frozen=True)
class ComposeInput:
    """A file set merged into one tree, and what the loader chose around it."""

    root: Node
    v1: bool
    files: tuple[Path, ...]
    directory: Path
    variables: Mapping[str, str]
    project: str | None = None
    selection: Selection = field(default_factory=Selection)
    warnings: tuple[str, ...] = ()
    """Warnings from reading the files (unset variables...), kept first."""
    backend: str | None = None
    """The backend the command line chose; else the file's `x-squall: backend`."""
    hosts: tuple[str, ...] = ()
    """`-H NAME=URL` flags: hosts added to (or overriding) the file's `x-squall: hosts`."""


def load_compose(given: ComposeInput) -> ClusterSpec:
    """Raises: SpecError at the first problem, naming its file, line and field."""
    root, warnings = given.root, list(given.warnings)
    top = root.mapping()
    if given.v1:
        services_node = top["services"].mapping()
        entries: dict[str, Node] = {}
        networks: dict[str, NetworkSpec] = {}
        declared_volumes: dict[str, VolumeSpec] | None = None
    else:
        entries = TOP_LEVEL.entries(root, warnings)
        if not any(block in entries for block in MODEL_BLOCKS):
            root.fail("no 'services:' found (nor Blockade's 'containers:')")
        services_node = entries["services"].optional_mapping() if "services" in entries else {}
        networks = _networks(entries.get("networks"), warnings)
        declared_volumes = _volumes(entries.get("volumes"), warnings)
    options = squall_options(top.get(SQUALL_BLOCK), warnings, given.directory)
    mounts = MountContext(
        project_dir=given.directory,
        variables=given.variables,
        declared=None if declared_volumes is None else frozenset(declared_volumes),
        warnings=warnings,
    )
    secrets = parse_files(entries.get("secrets"), "secret", mounts)
    configs = parse_files(entries.get("configs"), "config", mounts)
    context = ServiceContext(
        services=frozenset(services_node),
        networks=networks,
        images_optional=(given.backend or options.backend) == "netns",
        mounts=mounts,
        secrets=frozenset(secrets),
        configs=frozenset(configs),
    )
    parsed = [parse_service(name, node, context) for name, node in services_node.items()]
    _check_container_names(parsed, services_node)
    selected = select(parsed, services_node, given.selection)
    services = list(selected.services)
    check_acyclic(services, "" if given.v1 else "services.")
    if declared_volumes is None:
        declared_volumes = _implicit_volumes(services)
    if DEFAULT_NETWORK not in networks and any(s.network(DEFAULT_NETWORK) for s in services):
        networks[DEFAULT_NETWORK] = NetworkSpec(DEFAULT_NETWORK)
    spec = ClusterSpec(
        name=project_name(given.project, entries.get("name"), given.variables, given.directory),
        source=given.files[0],
        format="compose-v1" if given.v1 else "compose",
        services=tuple(services),
        networks=tuple(networks[name] for name in sorted(networks)),
        volumes=tuple(declared_volumes[name] for name in sorted(declared_volumes)),
        options=options,
        warnings=tuple(warnings),
        secrets=tuple(secrets[name] for name in sorted(secrets)),
        configs=tuple(configs[name] for name in sorted(configs)),
        files=given.files,
        directory=given.directory,
        profiles=selected.declared_profiles,
        active_profiles=selected.active_profiles,
    )
    return with_hosts(spec, given.hosts)


def _networks(node: Node | None, warnings: list[str]) -> dict[str, NetworkSpec]:
    if node is None:
        return {}
    return {
        name: _network(name, child, warnings) for name, child in node.optional_mapping().items()
    }


def _network(name: str, node: Node, warnings: list[str]) -> NetworkSpec:
    check_name(name, node, "network")
    entries = NETWORK.entries(node, warnings)
    external, external_name, declared_name = _external(entries, warnings)
    subnets: list[str] = []
    gateway = None
    if "ipam" in entries:
        ipam = IPAM.entries(entries["ipam"], warnings)
        configs = ipam["config"].sequence() if "config" in ipam else []
        for item in configs:
            config = IPAM_CONFIG.entries(item, warnings)
            if "subnet" in config:
                subnets.append(_subnet(config["subnet"]))
            if "gateway" in config and gateway is None:
                gateway = config["gateway"].ip_address()
    return NetworkSpec(
        name=name,
        location=node.key_location,
        driver=entries["driver"].text() if "driver" in entries else "bridge",
        subnets=tuple(subnets),
        gateway=gateway,
        internal=entries["internal"].boolean() if "internal" in entries else False,
        external=external,
        external_name=external_name,
        labels=key_values(entries["labels"]) if "labels" in entries else {},
        declared_name=declared_name,
        attachable=entries["attachable"].boolean() if "attachable" in entries else False,
        enable_ipv6=entries["enable_ipv6"].boolean() if "enable_ipv6" in entries else False,
    )


def _volumes(node: Node | None, warnings: list[str]) -> dict[str, VolumeSpec]:
    if node is None:
        return {}
    result = {}
    for name, child in node.optional_mapping().items():
        check_name(name, child, "volume")
        entries = VOLUME.entries(child, warnings)
        external, external_name, declared_name = _external(entries, warnings)
        result[name] = VolumeSpec(
            name=name,
            location=child.key_location,
            driver=entries["driver"].text() if "driver" in entries else "local",
            external=external,
            external_name=external_name,
            labels=key_values(entries["labels"]) if "labels" in entries else {},
            declared_name=declared_name,
        )
    return result


def _external(entries: dict[str, Node], warnings: list[str]) -> tuple[bool, str | None, str | None]:
    """(external, name in the engine, declared name); also reads the legacy
    `external: {name: x}`.

    `name:` on a network or volume Squall creates is kept as its declared name.
    """
    name_node = entries.get("name")
    name = name_node.text() if name_node is not None and name_node.value is not None else None
    external_node = entries.get("external")
    if external_node is not None and isinstance(external_node.value, dict):
        legacy = EXTERNAL.entries(external_node, warnings)
        if "name" in legacy:
            name = legacy["name"].text()
        return True, name, None
    external = external_node.boolean() if external_node is not None else False
    if not external:
        return False, None, name
    return external, name, None


def _subnet(node: Node) -> str:
    text = node.text()
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        node.fail(f"{text!r} is not a subnet (expected CIDR such as 172.20.0.0/24)")
    return text


def _check_container_names(services: list[ServiceSpec], nodes: Mapping[str, Node]) -> None:
    seen: dict[str, str] = {}
    for service in services:
        name = service.container_name
        if name is None:
            continue
        if name in seen:
            node = nodes[service.name].mapping()["container_name"]
            node.fail(f"container name {name!r} is already used by service {seen[name]!r}")
        seen[name] = service.name


def _implicit_volumes(services: list[ServiceSpec]) -> dict[str, VolumeSpec]:
    """v1 files never declare named volumes; each name used is one volume."""
    return {
        mount.source: VolumeSpec(mount.source)
        for service in services
        for mount in service.volumes
        if mount.type == "volume" and mount.source
    }
