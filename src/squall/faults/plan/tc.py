"""The tc half of a plan: per interface (or its ifb mirror, for ingress) one root htb,
one class per shape (with a netem child where the kernel has netem) and u32 filters
sending each shape's packets to its class; shapes in precedence order (filter `prio`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from squall.errors import FaultError, FaultUnsupported
from squall.faults.model import NamespaceFaults, PortRange, Selector, Shape, Way
from squall.faults.plan.model import (
    _CLASS_MINOR_BASE,
    _NETEM_MAJOR_BASE,
    NETEM_LIMIT,
    TC_HANDLE,
    TC_MAJOR,
    UNLIMITED,
    Interface,
    KernelCaps,
    ifb_name,
)

Argv = tuple[str, ...]


def mirred_redirect(device: str, target: str) -> tuple[str, ...]:
    """tc argv sending everything arriving on `device` through `target` (an ifb)."""
    return (
        "tc", "filter", "add", "dev", device, "parent", "ffff:", "protocol", "ip", "prio", "1",
        "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", target,
    )  # fmt: skip


def needs_netem(shape: Shape) -> bool:
    return bool(shape.delayed or shape.loss or shape.duplicate or shape.corrupt)


def devices_for(selector: Selector, interfaces: Sequence[Interface]) -> list[Interface]:
    """Where a shape's tc objects go: the interfaces that reach its peers (all of them
    for a shape without peers; the default route's when none is on a peer's subnet)."""
    if not selector.peers:
        if not interfaces:
            raise FaultError("no interface to shape: the service has no network")
        return list(interfaces)
    chosen = [i for i in interfaces if any(i.reaches(p) for p in selector.peers)]
    if chosen:
        return chosen
    routed = [i for i in interfaces if i.default_route]
    return routed or list(interfaces)


@dataclass(frozen=True)
class TcPlan:
    tc: tuple[Argv, ...] = ()
    """`tc` argv lists, in order, assuming none of Squall's qdiscs exist yet."""
    links: tuple[Argv, ...] = ()
    """`ip` argv lists creating Squall's ifb devices."""
    roots: tuple[str, ...] = ()
    ingress: tuple[str, ...] = ()
    ifbs: tuple[str, ...] = ()


def plan_tc(faults: NamespaceFaults, interfaces: Sequence[Interface], caps: KernelCaps) -> TcPlan:
    """Raises FaultUnsupported: rate or netem needs htb; ingress needs ifb and mirred."""
    tc: list[Argv] = []
    links: list[Argv] = []
    roots: list[str] = []
    ingress: list[str] = []
    ifbs: list[str] = []
    for (device, way), entries in sorted(_by_device(faults, interfaces, caps).items()):
        target = device
        if way == "ingress":
            if not (caps.ifb and caps.mirred):
                raise FaultUnsupported("ingress shaping needs ifb devices and the mirred action")
            target = ifb_name(device)
            ifbs.append(target)
            ingress.append(device)
            links.append(("ip", "link", "add", target, "type", "ifb"))
            links.append(("ip", "link", "set", target, "up"))
            tc.append(("tc", "qdisc", "replace", "dev", device, "handle", "ffff:", "ingress"))
            tc.append(mirred_redirect(device, target))
        roots.append(target)
        tc.append(
            ("tc", "qdisc", "replace", "dev", target, "root", "handle", TC_HANDLE,
             "htb", "default", "0")
        )  # fmt: skip
        for index, shape in entries:
            tc += _shape_commands(target, way, index, shape, caps)
    return TcPlan(tuple(tc), tuple(links), tuple(roots), tuple(ingress), tuple(ifbs))


def _by_device(
    faults: NamespaceFaults, interfaces: Sequence[Interface], caps: KernelCaps
) -> dict[tuple[str, Way], list[tuple[int, Shape]]]:
    """The shapes that need an htb class, by (device, way), in precedence order."""
    per_device: dict[tuple[str, Way], list[tuple[int, Shape]]] = {}
    for index, shape in enumerate(faults.shapes):
        wants_class = shape.rate is not None or (caps.netem and needs_netem(shape))
        if not wants_class:
            continue
        if not caps.htb:
            raise FaultUnsupported("rate and netem shaping need the htb qdisc")
        for way in shape.selector.ways:
            for iface in devices_for(shape.selector, interfaces):
                per_device.setdefault((iface.name, way), []).append((index, shape))
    return per_device


def _shape_commands(
    target: str, way: Way, index: int, shape: Shape, caps: KernelCaps
) -> list[Argv]:
    """One shape on one device: its htb class, its netem child, its u32 filters."""
    classid = f"{TC_MAJOR:x}:{_CLASS_MINOR_BASE + index:x}"
    rate = (shape.rate or UNLIMITED).tc()
    commands: list[Argv] = [
        ("tc", "class", "replace", "dev", target, "parent", TC_HANDLE, "classid", classid,
         "htb", "rate", rate, "ceil", rate, "quantum", "1514"),
    ]  # fmt: skip
    if caps.netem and needs_netem(shape):
        handle = f"{_NETEM_MAJOR_BASE + _CLASS_MINOR_BASE + index:x}:"
        commands.append(
            ("tc", "qdisc", "replace", "dev", target, "parent", classid, "handle", handle,
             "netem", "limit", str(NETEM_LIMIT), *netem_args(shape))
        )  # fmt: skip
    for match in _u32_matches(shape.selector, way):
        commands.append(
            ("tc", "filter", "add", "dev", target, "parent", TC_HANDLE, "protocol", "ip",
             "prio", str(index + 1), "u32", *match, "flowid", classid)
        )  # fmt: skip
    return commands


def netem_args(shape: Shape) -> tuple[str, ...]:
    """tc-netem(8) arguments for a shape (rate is the htb class's job)."""
    args: list[str] = []
    if shape.delay and shape.delay.ns:
        args += ["delay", shape.delay.tc()]
        if shape.jitter and shape.jitter.ns:
            args.append(shape.jitter.tc())
            if shape.correlation:
                args.append(str(shape.correlation))
            if shape.distribution != "uniform":
                # netem's default jitter is uniform; it ships no "uniform" table.
                args += ["distribution", shape.distribution]
    if shape.loss:
        args += ["loss", "random", str(shape.loss)]
        if shape.loss_correlation:
            args.append(str(shape.loss_correlation))
    for name in ("duplicate", "corrupt", "reorder"):
        value = getattr(shape, name)
        if value:
            args += [name, str(value)]
    return tuple(args)


def port_masks(r: PortRange) -> list[tuple[int, int]]:
    """Cover a port range with (value, mask) blocks, for u32's masked matches."""
    out: list[tuple[int, int]] = []
    low, high = r.first, r.last
    while low <= high:
        size = low & -low if low else 1 << 16
        while size > high - low + 1:
            size >>= 1
        out.append((low, 0xFFFF & ~(size - 1)))
        low += size
    return out


_PROTO_NUMBERS: Final = {"icmp": 1, "tcp": 6, "udp": 17}


def _u32_matches(selector: Selector, way: Way) -> list[tuple[str, ...]]:
    """u32 `match` argument lists, one per filter to add (peers x protos x ports)."""
    field_name = "dst" if way == "egress" else "src"
    peers: list[tuple[str, ...]] = [("match", "ip", field_name, p) for p in selector.peers]
    if not peers:
        peers = [()]
    protos: list[str | None]
    if selector.ports:
        protos = [selector.proto] if selector.proto else ["tcp", "udp"]
    else:
        protos = [selector.proto]
    ports: list[tuple[str, ...]] = [
        ("match", "ip", "dport", str(value), f"0x{mask:04x}")
        for r in selector.ports
        for value, mask in port_masks(r)
    ] or [()]
    out: list[tuple[str, ...]] = []
    for peer in peers:
        for proto in protos:
            proto_match: tuple[str, ...] = (
                ("match", "ip", "protocol", str(_PROTO_NUMBERS[proto]), "0xff") if proto else ()
            )
            for port in ports:
                match = (*peer, *proto_match, *port)
                out.append(match or ("match", "u32", "0", "0"))
    return out
