"""Desired faults by service name -> faults by namespace with addresses. Pure.

Run at every apply, because addresses change when services restart: a shape `--to db`
and a partition between `api` and `db` follow `db` to its new address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from squall.faults.desired import DesiredFaults
from squall.faults.model import Blocks, NamespaceFaults, Partition
from squall.faults.partition import blocks
from squall.runtime.base import ServiceState


@dataclass(frozen=True)
class Resolved:
    """One running service's namespace and everything it must hold."""

    service: ServiceState
    faults: NamespaceFaults
    notes: tuple[str, ...] = ()
    """Why part of the desired state is not in force (e.g. a peer is stopped)."""


def service_addresses(services: Sequence[ServiceState]) -> dict[str, list[str]]:
    """Every running service's IPv4 addresses as `/32`s, on all its networks."""
    result: dict[str, list[str]] = {}
    for s in services:
        if s.state != "running":
            continue
        hosts = []
        for a in s.addresses:
            if a.ip and ipaddress.ip_address(a.ip).version == 4:
                hosts.append(f"{a.ip}/32")
        result[s.service] = sorted(set(hosts))
    return result


def _live_partition(partition: Partition, addresses: Mapping[str, Sequence[str]]) -> Partition:
    """Only cuts whose both ends run: a stopped service is cut off by being stopped."""
    cuts = tuple(c for c in partition.cuts if addresses.get(c.src) and addresses.get(c.dst))
    return Partition(cuts=cuts, groups=partition.groups, kind=partition.kind)


def resolve(
    desired: DesiredFaults, services: Sequence[ServiceState], tag: str, project: str
) -> list[Resolved]:
    """Faults for every running service that has a network namespace."""
    addresses = service_addresses(services)
    with_addresses = {s: a for s, a in addresses.items() if a}
    blocked = blocks(_live_partition(desired.partition, with_addresses), with_addresses)
    resolved: list[Resolved] = []
    for state in services:
        if state.state != "running" or not state.netns:
            continue
        faults = NamespaceFaults(
            tag=tag,
            netns=state.netns,
            label=f"{project}/{state.service}",
            blocks=blocked.get(state.service, Blocks()),
        )
        notes: list[str] = []
        for entry in desired.shapes.get(state.service, ()):
            peer_hosts = [h for name in entry.to_services for h in addresses.get(name, ())]
            missing = [name for name in entry.to_services if not addresses.get(name)]
            if missing:
                notes.append(f"{entry.describe()}: {', '.join(missing)} not running")
            if entry.to_services and not peer_hosts and not entry.shape.selector.peers:
                continue
            selector = entry.shape.selector
            if peer_hosts:
                selector = replace(selector, peers=(*selector.peers, *peer_hosts))
            faults = faults.with_shape(replace(entry.shape, selector=selector))
        resolved.append(Resolved(state, faults, tuple(notes)))
    return resolved
