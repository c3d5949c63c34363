"""What `status` shows on the Docker backend, from the engine's inspect answers. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from squall.runtime.base import NetworkAddress, ServiceState
from squall.runtime.docker import naming


def container_display_name(summary: Mapping[str, Any]) -> str:
    names = summary.get("Names") or []
    return str(names[0]).lstrip("/") if names else str(summary["Id"])[:12]


def service_state(
    summary: Mapping[str, Any], info: Mapping[str, Any], networks: Mapping[str, str]
) -> ServiceState:
    labels = (info.get("Config") or {}).get("Labels") or {}
    state = info.get("State") or {}
    ident = str(info.get("Id", ""))
    short = ident[:12]
    fallback = naming.parse_networks_label(labels.get(naming.NETWORKS_LABEL))
    addresses: list[NetworkAddress] = []
    settings = info.get("NetworkSettings") or {}
    for engine_name, endpoint in sorted((settings.get("Networks") or {}).items()):
        cluster_name = networks.get(engine_name) or fallback.get(engine_name) or engine_name
        aliases = tuple(a for a in endpoint.get("Aliases") or () if a not in (short, ident))
        addresses.append(
            NetworkAddress(
                network=cluster_name,
                ip=endpoint.get("IPAddress") or None,
                prefix_len=endpoint.get("IPPrefixLen") or None,
                aliases=aliases,
            )
        )
    pid = int(state.get("Pid") or 0) or None
    ports: list[str] = []
    for key, bindings in sorted((settings.get("Ports") or {}).items()):
        for binding in bindings or ():
            ports.append(f"{binding.get('HostIp', '')}:{binding.get('HostPort', '')}->{key}")
    return ServiceState(
        service=str(labels.get(naming.SERVICE_LABEL, "")),
        container=str(info.get("Name", "")).lstrip("/") or container_display_name(summary),
        id=short or None,
        state=str(state.get("Status") or "unknown"),
        health=(state.get("Health") or {}).get("Status"),
        addresses=tuple(sorted(addresses, key=lambda a: a.network)),
        pid=pid,
        netns=f"/proc/{pid}/ns/net" if pid else None,
        image=(info.get("Config") or {}).get("Image"),
        ports=tuple(ports),
        replica=naming.container_number(labels),
    )


def numbered(states: Sequence[ServiceState]) -> list[ServiceState]:
    """Replica numbers only where a service runs several containers (or its one is not
    the first): a service of one is known by its own name."""
    counts = Counter(s.service for s in states)
    return [
        s if counts[s.service] > 1 or (s.replica or 1) != 1 else replace(s, replica=None)
        for s in states
    ]


__all__ = ["container_display_name", "numbered", "service_state"]
