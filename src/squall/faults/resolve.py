"""Desired faults by service name -> faults by namespace with addresses. Pure.

Run at every apply, because addresses change when services restart: a shape `--to db`
and a partition between `api` and `db` follow `db` to its new address.

A replicated service's containers are members (`api-1`, `api-2`): faults name either
the service (every replica, those of a later `--scale` too) or one member.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from squall.errors import FaultUnsupported
from squall.faults.desired import DesiredFaults, ShapeEntry
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


def names_of(state: ServiceState) -> tuple[str, ...]:
    """The names a fault may give this container: its service's, and its member's."""
    return tuple(dict.fromkeys((state.service, state.member)))


def shapes_of(desired: DesiredFaults, state: ServiceState) -> tuple[ShapeEntry, ...]:
    """The shapes that hold for this container: its service's, then its own."""
    return tuple(e for name in names_of(state) for e in desired.shapes.get(name, ()))


def service_addresses(services: Sequence[ServiceState]) -> dict[str, list[str]]:
    """Every running service's IPv4 addresses as `/32`s, on all its networks; a
    replicated service's under its name (all replicas) and each member's name."""
    found: dict[str, set[str]] = {}
    for s in services:
        if s.state != "running":
            continue
        hosts = {
            f"{a.ip}/32" for a in s.addresses if a.ip and ipaddress.ip_address(a.ip).version == 4
        }
        for name in names_of(s):
            found.setdefault(name, set()).update(hosts)
    return {name: sorted(hosts) for name, hosts in found.items()}


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
        if state.state != "running":
            continue
        faults = NamespaceFaults(
            tag=tag,
            netns=state.netns or "",
            label=f"{project}/{state.member}",
            blocks=_merged([blocked.get(name, Blocks()) for name in names_of(state)]),
        )
        notes: list[str] = []
        for entry in shapes_of(desired, state):
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
        if not state.netns:
            if state.elsewhere:
                _refuse_elsewhere(state, faults)
            continue
        resolved.append(Resolved(state, faults, tuple(notes)))
    return resolved


def _refuse_elsewhere(state: ServiceState, faults: NamespaceFaults) -> None:
    """A service whose namespace is not on this kernel (an engine elsewhere) that should
    hold faults: entering a namespace by its pid here would touch another process.

    Raises:
        FaultUnsupported: it needs faults that Squall cannot put there directly.
    """
    if not faults.shapes and faults.blocks == Blocks():
        return
    where = f"host {state.host!r}" if state.host else "its Docker Engine"
    raise FaultUnsupported(
        f"service {state.member!r} runs on {where}, which is not proved to be this "
        "machine's kernel: Squall will not enter a namespace there by pid "
        "(faults on another kernel need its agent)"
    )


def _merged(found: Sequence[Blocks]) -> Blocks:
    """A container's blocks: those of its service's name and of its member's name."""
    if len(found) == 1:
        return found[0]

    def union(field: str) -> set[str]:
        return {a for b in found for a in getattr(b, field)}

    ingress, egress = union("ingress"), union("egress")
    return Blocks(
        egress=tuple(sorted(egress)),
        ingress=tuple(sorted(ingress)),
        egress_originated=tuple(sorted(union("egress_originated") - egress)),
        ingress_originated=tuple(sorted(union("ingress_originated") - ingress)),
    )
