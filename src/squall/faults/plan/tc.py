"""tc commands of a plan: netem arguments, u32 matches, the ingress redirect."""

from __future__ import annotations

from typing import Final

from squall.faults.model import PortRange, Selector, Shape, Way


def mirred_redirect(device: str, target: str) -> tuple[str, ...]:
    """tc argv sending everything arriving on `device` through `target` (an ifb)."""
    return (
        "tc", "filter", "add", "dev", device, "parent", "ffff:", "protocol", "ip", "prio", "1",
        "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", target,
    )  # fmt: skip


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
