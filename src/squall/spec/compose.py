"""A compose file (compose spec, or legacy v1 with services at the top) -> `ClusterSpec`.

Order matters and follows Compose: variables (shell over `.env`) are substituted
into every string first, then types are checked; networks and volumes are read
before services so a service's reference to them is checked where it is written.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path

from squall.errors import Location, SpecError
from squall.spec.envfile import parse_env
from squall.spec.graph import check_acyclic
from squall.spec.interpolate import substitute
from squall.spec.keys import EXTERNAL, IGNORED, IPAM, IPAM_CONFIG, NETWORK, TOP_LEVEL, VOLUME
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
from squall.spec.project import project_name
from squall.spec.service import ServiceContext, check_name, key_values, parse_service

SQUALL_BLOCK = "x-squall"


def is_v1(root: Node) -> bool:
    """True when every top-level entry (but `version` and `x-*`) looks like a service."""
    entries = [
        child
        for key, child in root.mapping().items()
        if key != "version" and not key.startswith("x-")
    ]
    return bool(entries) and all(
        isinstance(child.value, dict) and ("image" in child.value or "build" in child.value)
        for child in entries
    )


def read_dotenv(project_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """Variables of the project's `.env` file, or none when it does not exist."""
    path = project_dir / ".env"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read: {exc}", Location(path)) from exc
    return parse_env(text, path, environ)


def load_compose(
    root: Node,
    *,
    v1: bool,
    project: str | None,
    environ: Mapping[str, str],
) -> ClusterSpec:
    """Raises: SpecError at the first problem, naming its file, line and field."""
    source = root.source
    variables = {**read_dotenv(source.parent, environ), **environ}
    warnings: list[str] = []
    root = interpolate(root, variables, warnings)
    top = root.mapping()
    if v1:
        services_node = {
            key: child
            for key, child in top.items()
            if key != "version" and not key.startswith("x-")
        }
        name_node = None
        networks: dict[str, NetworkSpec] = {}
        declared_volumes: dict[str, VolumeSpec] | None = None
    else:
        entries = TOP_LEVEL.entries(root, warnings)
        if "services" not in entries:
            root.fail("no 'services:' found (nor Blockade's 'containers:')")
        services_node = entries["services"].optional_mapping()
        name_node = entries.get("name")
        networks = _networks(entries.get("networks"), warnings)
        declared_volumes = _volumes(entries.get("volumes"), warnings)
    if not services_node:
        root.fail("the file defines no services")
    options = squall_options(top.get(SQUALL_BLOCK), warnings)
    context = ServiceContext(
        services=frozenset(services_node),
        networks=networks,
        images_optional=options.backend == "netns",
        mounts=MountContext(
            project_dir=source.parent,
            variables=variables,
            declared=None if declared_volumes is None else frozenset(declared_volumes),
            warnings=warnings,
        ),
    )
    services = [parse_service(name, node, context) for name, node in services_node.items()]
    _check_container_names(services, services_node)
    check_acyclic(services, "" if v1 else "services.")
    if declared_volumes is None:
        declared_volumes = _implicit_volumes(services)
    if DEFAULT_NETWORK not in networks and any(s.network(DEFAULT_NETWORK) for s in services):
        networks[DEFAULT_NETWORK] = NetworkSpec(DEFAULT_NETWORK)
    return ClusterSpec(
        name=project_name(project, name_node, variables, source),
        source=source,
        format="compose-v1" if v1 else "compose",
        services=tuple(sorted(services, key=lambda s: s.name)),
        networks=tuple(networks[name] for name in sorted(networks)),
        volumes=tuple(declared_volumes[name] for name in sorted(declared_volumes)),
        options=options,
        warnings=tuple(warnings),
    )


def interpolate(root: Node, variables: Mapping[str, str], warnings: list[str]) -> Node:
    """`root` with variables substituted in every string value (not in keys).

    Each variable used while unset earns one warning, at its first use.
    """
    warned: set[str] = set()

    def change(node: Node) -> str:
        assert isinstance(node.value, str)
        if "$" not in node.value:
            return node.value
        result = substitute(node.value, variables, location=node.location, field_path=node.field)
        for name in result.missing:
            if name not in warned:
                warned.add(name)
                warnings.append(node.warning(f"variable {name} is not set; using an empty string"))
        return result.text

    return root.with_strings(change)


def _networks(node: Node | None, warnings: list[str]) -> dict[str, NetworkSpec]:
    if node is None:
        return {}
    return {
        name: _network(name, child, warnings) for name, child in node.optional_mapping().items()
    }


def _network(name: str, node: Node, warnings: list[str]) -> NetworkSpec:
    check_name(name, node, "network")
    entries = NETWORK.entries(node, warnings)
    external, external_name = _external(entries, warnings)
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
                gateway = _address(config["gateway"])
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
    )


def _volumes(node: Node | None, warnings: list[str]) -> dict[str, VolumeSpec]:
    if node is None:
        return {}
    result = {}
    for name, child in node.optional_mapping().items():
        check_name(name, child, "volume")
        entries = VOLUME.entries(child, warnings)
        external, external_name = _external(entries, warnings)
        result[name] = VolumeSpec(
            name=name,
            location=child.key_location,
            driver=entries["driver"].text() if "driver" in entries else "local",
            external=external,
            external_name=external_name,
            labels=key_values(entries["labels"]) if "labels" in entries else {},
        )
    return result


def _external(entries: dict[str, Node], warnings: list[str]) -> tuple[bool, str | None]:
    """(external, name in the engine); also reads the legacy `external: {name: x}`.

    `name:` on a network Squall creates is not used: Squall names what it creates.
    """
    name_node = entries.get("name")
    name = name_node.text() if name_node is not None and name_node.value is not None else None
    external_node = entries.get("external")
    if external_node is not None and isinstance(external_node.value, dict):
        legacy = EXTERNAL.entries(external_node, warnings)
        if "name" in legacy:
            name = legacy["name"].text()
        return True, name
    external = external_node.boolean() if external_node is not None else False
    if not external and name_node is not None:
        warnings.append(name_node.warning(IGNORED))
        name = None
    return external, name


def _subnet(node: Node) -> str:
    text = node.text()
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        node.fail(f"{text!r} is not a subnet (expected CIDR such as 172.20.0.0/24)")
    return text


def _address(node: Node) -> str:
    text = node.text()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        node.fail(f"{text!r} is not an IP address")
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
