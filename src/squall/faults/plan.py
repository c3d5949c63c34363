"""Desired faults of one namespace -> kernel operations, as data. Pure: no root, no I/O.

`plan()` returns a `KernelPlan`: an iptables ruleset in Squall's own chains (every
rule commented `squall:<tag>`), tc commands as argv lists, ifb devices to create, and
the NFQUEUE work for the userspace shaper. `--dry-run` prints it; `kernel.apply()`
makes a namespace match it.

Which mechanism does what:

| fault                          | kernel with netem        | kernel without netem (here)      |
|--------------------------------|--------------------------|----------------------------------|
| partition                      | iptables DROP            | iptables DROP                    |
| rate                           | htb class                | htb class                        |
| delay, jitter, duplicate,      | netem under an htb class | NFQUEUE -> shaper                |
| corrupt, reorder               |                          |                                  |
| loss                           | netem                    | iptables statistic DROP          |
| loss with correlation          | netem                    | NFQUEUE -> shaper                |

Selectors become one htb class and one u32 filter set per shape on each interface
(egress) or on the interface's ifb mirror (ingress), and iptables matches (`-d`/`-s`
per peer, `-p`, `-m multiport --dports`). The first shape whose selector matches a
packet applies (filter `prio` order in tc, `RETURN` rules in iptables).

tc objects carry no comments; Squall's are recognised by their handle (`5351:`,
"SQ") and its ifb devices by their `sq-` prefix. A namespace holds one service of
one cluster, so that is enough to find them again. u32 port matches assume a 20-byte
IPv4 header (no IP options), as tc's `match ip dport` does. IPv4 only.
"""

from __future__ import annotations

import ipaddress
import shlex
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from squall.errors import FaultError, FaultUnsupported
from squall.faults.model import NamespaceFaults, PortRange, Selector, Shape, Way
from squall.faults.shaper_config import SHAPER_MARK, SHAPER_MARK_MASK, NamespaceQueues, QueueSpec
from squall.units import Rate

Table = Literal["filter", "mangle"]

DROP_HOOKS: Final[dict[Way, tuple[Table, str]]] = {
    "egress": ("filter", "OUTPUT"),
    "ingress": ("filter", "INPUT"),
}
"""Where partition and loss drops sit."""

QUEUE_HOOKS: Final[dict[Way, tuple[Table, str]]] = {
    "egress": ("filter", "OUTPUT"),
    "ingress": ("filter", "INPUT"),
}
"""Where NFQUEUE rules sit: the one place to change if the shaper wants another hook
(e.g. `("mangle", "POSTROUTING")`). OUTPUT is where DESIGN.md measured the shaper."""

_CHAIN_SUFFIX: Final = {"OUTPUT": "OUT", "INPUT": "IN", "POSTROUTING": "POST", "PREROUTING": "PRE"}

QUEUE_BASE: Final = 5351
"""First NFQUEUE number; queues are per namespace, numbered in shape order."""

TC_MAJOR: Final = 0x5351
"""Major handle of Squall's root htb qdiscs ("SQ"); how Squall's tc objects are known."""
TC_HANDLE: Final = f"{TC_MAJOR:x}:"
_NETEM_MAJOR_BASE: Final = 0x5400
_CLASS_MINOR_BASE: Final = 0x10
IFB_PREFIX: Final = "sq-"
UNLIMITED: Final = Rate(10_000_000_000, "gbit")
"""Class rate for shapes that only need a netem child, not a rate limit."""
NETEM_LIMIT: Final = 10_000
"""Packets netem may hold: 100 ms at ~1 Gbit/s of full-size packets."""
_MULTIPORT_MAX: Final = 15


@dataclass(frozen=True)
class Interface:
    """A network interface inside the namespace, with its addresses (`10.0.0.2/24`).

    `default_route`: peers on no attached subnet are reached through this one.
    """

    name: str
    addresses: tuple[str, ...] = ()
    default_route: bool = False

    def reaches(self, cidr: str) -> bool:
        peer = ipaddress.ip_network(cidr, strict=False)
        for address in self.addresses:
            subnet = ipaddress.ip_interface(address).network
            if subnet.version == peer.version and subnet.overlaps(peer):
                return True
        return False


@dataclass(frozen=True)
class KernelCaps:
    """What the kernel (and its userland) can do; see `kernel.detect_caps()`."""

    netem: bool = True
    htb: bool = True
    tbf: bool = True
    ifb: bool = True
    mirred: bool = True
    police: bool = True
    nfqueue: bool = True
    statistic: bool = True
    conntrack: bool = True
    iptables_backend: str | None = "nft"
    """`nft` or `legacy` (the `iptables` on PATH), None when absent."""

    def paths(self) -> dict[str, str]:
        """Which mechanism each fault kind uses here (for `squall doctor`)."""
        shaper = "userspace shaper (NFQUEUE)" if self.nfqueue else "unavailable"
        return {
            "partition": "iptables DROP",
            "loss": "netem" if self.netem else "iptables statistic",
            "rate": "htb",
            "delay/jitter/reorder": "netem" if self.netem else shaper,
            "duplicate/corrupt": "netem" if self.netem else shaper,
            "ingress": "ifb + htb" if self.ifb and self.mirred else "unavailable",
        }


@dataclass(frozen=True)
class Chain:
    """One of Squall's iptables chains and the built-in chain that jumps to it."""

    table: Table
    name: str
    hook: str
    comment: str

    @property
    def jump_args(self) -> tuple[str, ...]:
        return ("-m", "comment", "--comment", self.comment, "-j", self.name)

    def jump_line(self, op: str = "-I") -> str:
        position = " 1" if op == "-I" else ""
        return f"{op} {self.hook}{position} {_join(self.jump_args)}"


@dataclass(frozen=True)
class Rule:
    table: Table
    chain: str
    args: tuple[str, ...]

    def line(self) -> str:
        return f"-A {self.chain} {_join(self.args)}"


@dataclass(frozen=True)
class KernelPlan:
    """Everything one namespace should hold, as printable, comparable data."""

    tag: str
    label: str
    chains: tuple[Chain, ...] = ()
    rules: tuple[Rule, ...] = ()
    links: tuple[tuple[str, ...], ...] = ()
    """`ip` argv lists creating Squall's ifb devices."""
    tc: tuple[tuple[str, ...], ...] = ()
    """`tc` argv lists, in order, assuming none of Squall's qdiscs exist yet."""
    root_devices: tuple[str, ...] = ()
    """Devices whose root qdisc is Squall's htb."""
    ingress_devices: tuple[str, ...] = ()
    """Devices whose ingress is redirected to a Squall ifb."""
    ifbs: tuple[str, ...] = ()
    queues: NamespaceQueues | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def comment(self) -> str:
        return comment_for(self.tag)

    @property
    def is_empty(self) -> bool:
        return not (self.rules or self.tc or self.links)

    def tables(self) -> tuple[Table, ...]:
        return tuple(sorted({c.table for c in self.chains}))

    def restore_text(self, with_jumps: Iterable[Chain] | None = None) -> str:
        """Input for `iptables-restore --noflush`: declaring a chain flushes it.

        Args:
            with_jumps: chains whose jump from the built-in chain must be added;
                all of them when None (a namespace without Squall's rules).
        """
        jumps = set(self.chains if with_jumps is None else with_jumps)
        out: list[str] = []
        for table in self.tables():
            out.append(f"*{table}")
            chains = [c for c in self.chains if c.table == table]
            out.extend(f":{c.name} - [0:0]" for c in chains)
            out.extend(r.line() for r in self.rules if r.table == table)
            out.extend(c.jump_line() for c in chains if c in jumps)
            out.append("COMMIT")
        return "\n".join(out) + "\n" if out else ""

    def render(self) -> str:
        """The plan as a person reads it (`--dry-run`)."""
        lines = [f"# {self.label} (tag {self.tag})"]
        lines.extend(f"# note: {n}" for n in self.notes)
        if self.is_empty:
            lines.append("# no faults: remove every Squall rule, qdisc and ifb here")
        text = self.restore_text()
        if text:
            lines.append("# iptables-restore --noflush <<EOF")
            lines.extend(text.rstrip("\n").splitlines())
            lines.append("# EOF")
        lines.extend(_join(argv) for argv in (*self.links, *self.tc))
        if self.queues and self.queues.queues:
            for q in self.queues.queues:
                lines.append(f"# shaper: {describe_queue(q)}")
        return "\n".join(lines)


def comment_for(tag: str) -> str:
    return f"squall:{tag}"


def chain_name(tag: str, hook: str) -> str:
    return f"SQUALL-{tag}-{_CHAIN_SUFFIX[hook]}"


def ifb_name(device: str) -> str:
    """The ifb mirroring `device`'s ingress; interface names are at most 15 bytes."""
    name = IFB_PREFIX + device
    if len(name) <= 15:
        return name
    digest = f"{zlib.crc32(device.encode()) & 0xFFFF:04x}"
    return f"{IFB_PREFIX}{device[:7]}-{digest}"


def describe_queue(q: QueueSpec) -> str:
    parts = [f"queue {q.num} {q.mode}"]
    for name in ("delay", "jitter"):
        value = getattr(q, name)
        if value:
            parts.append(f"{name} {value * 1000:g}ms")
    if q.jitter:
        parts.append(f"distribution {q.distribution}")
    for name in ("correlation", "loss", "loss_correlation", "duplicate", "corrupt", "reorder"):
        value = getattr(q, name)
        if value:
            parts.append(f"{name} {value * 100:g}%")
    return " ".join(parts)


def _join(argv: Iterable[str]) -> str:
    return " ".join(f'"{a}"' if a.startswith("squall:") else shlex.quote(a) for a in argv)


def needs_queue(shape: Shape) -> bool:
    """Does the no-netem path need the userspace shaper for this shape?"""
    return bool(
        shape.delayed or shape.duplicate or shape.corrupt or (shape.loss and shape.loss_correlation)
    )


def needs_netem(shape: Shape) -> bool:
    return bool(shape.delayed or shape.loss or shape.duplicate or shape.corrupt)


def mirred_redirect(device: str, target: str) -> tuple[str, ...]:
    """tc argv sending everything arriving on `device` through `target` (an ifb)."""
    return (
        "tc", "filter", "add", "dev", device, "parent", "ffff:", "protocol", "ip", "prio", "1",
        "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", target,
    )  # fmt: skip


def plan(
    faults: NamespaceFaults,
    interfaces: Sequence[Interface],
    caps: KernelCaps,
    now: float | None = None,
) -> KernelPlan:
    """Turn one namespace's desired faults into kernel operations.

    Args:
        faults: shapes (precedence order) and partition blocks, peers as CIDRs.
        interfaces: the namespace's interfaces other than loopback.
        caps: what the kernel has; decides netem versus iptables + shaper.
        now: Unix time; shapes that expired by then are left out.

    Raises:
        FaultUnsupported: the kernel lacks something a fault needs.
        FaultError: a shape without peers but no interface to put it on.
    """
    if now is not None:
        faults = faults.active(now)
    builder = _Builder(faults, tuple(interfaces), caps)
    return builder.build()


class _Builder:
    """Accumulates one plan; a class only to share the inputs between its steps."""

    def __init__(
        self, faults: NamespaceFaults, interfaces: tuple[Interface, ...], caps: KernelCaps
    ) -> None:
        self.faults = faults
        self.interfaces = interfaces
        self.caps = caps
        self.comment = comment_for(faults.tag)
        self.rules: dict[tuple[Table, str], list[tuple[int, tuple[str, ...], bool]]] = {}
        """(table, hook) -> (shape index or -1, args, terminal) in order."""
        self.queues: list[QueueSpec] = []
        self.notes: list[str] = []

    # iptables -------------------------------------------------------------------

    def _add_target(
        self, hook: tuple[Table, str], owner: int, match: tuple[str, ...], target: tuple[str, ...]
    ) -> None:
        args = (*match, "-m", "comment", "--comment", self.comment, *target)
        terminal = target[1] in ("DROP", "NFQUEUE", "REJECT") and "statistic" not in match
        self.rules.setdefault(hook, []).append((owner, args, terminal))

    def _partition_rules(self) -> None:
        b = self.faults.blocks
        for way, cidrs, originated in (
            ("egress", b.egress, False),
            ("ingress", b.ingress, False),
            ("egress", b.egress_originated, True),
            ("ingress", b.ingress_originated, True),
        ):
            flag = "-d" if way == "egress" else "-s"
            hook = DROP_HOOKS[way]  # type: ignore[index]
            for cidr in cidrs:
                match: tuple[str, ...] = (flag, cidr)
                if originated:
                    match += ("-m", "conntrack", "--ctdir", "ORIGINAL")
                self._add_target(hook, -1, match, ("-j", "DROP"))

    def _shape_rules(self) -> None:
        if self.caps.netem:
            return
        for index, shape in enumerate(self.faults.shapes):
            for way in shape.selector.ways:
                matches = self._ipt_matches(shape.selector, way)
                if shape.loss and not shape.loss_correlation:
                    if not self.caps.statistic:
                        raise FaultUnsupported("loss needs iptables' statistic match")
                    probability = f"{shape.loss.fraction:.10g}"
                    for m in matches:
                        self._add_target(
                            DROP_HOOKS[way],
                            index,
                            (
                                *m,
                                "-m",
                                "statistic",
                                "--mode",
                                "random",
                                "--probability",
                                probability,
                            ),
                            ("-j", "DROP"),
                        )
                if needs_queue(shape):
                    if not self.caps.nfqueue:
                        raise FaultUnsupported(
                            "delay, duplicate and corrupt need netem or the NFQUEUE target"
                        )
                    num = QUEUE_BASE + len(self.queues)
                    self.queues.append(_queue_spec(num, way, shape))
                    for m in matches:
                        self._add_target(
                            QUEUE_HOOKS[way],
                            index,
                            m,
                            ("-j", "NFQUEUE", "--queue-num", str(num), "--queue-bypass"),
                        )
                for hook in {DROP_HOOKS[way], QUEUE_HOOKS[way]}:
                    # Marks where this shape's packets stop: first matching shape wins.
                    for m in matches:
                        self._add_target(hook, index, m, ("-j", "RETURN"))

    def _ipt_matches(self, selector: Selector, way: Way) -> list[tuple[str, ...]]:
        if selector.peers:
            flag = "-d" if way == "egress" else "-s"
            heads: list[tuple[str, ...]] = [(flag, p) for p in selector.peers]
        else:
            if not self.interfaces:
                raise FaultError("no interface to shape: the service has no network")
            flag = "-o" if way == "egress" else "-i"
            heads = [(flag, i.name) for i in self.interfaces]
        protos: list[str | None]
        if selector.ports:
            protos = [selector.proto] if selector.proto else ["tcp", "udp"]
        else:
            protos = [selector.proto]
        out: list[tuple[str, ...]] = []
        for head in heads:
            for proto in protos:
                base = head + (("-p", proto) if proto else ())
                if not selector.ports:
                    out.append(base)
                    continue
                for chunk in _multiport_chunks(selector.ports):
                    out.append((*base, "-m", "multiport", "--dports", chunk))
        return out

    def _iptables(self) -> tuple[tuple[Chain, ...], tuple[Rule, ...]]:
        chains: list[Chain] = []
        rules: list[Rule] = []
        skip_marked = bool(self.queues)
        for hook in sorted(self.rules):
            table, builtin = hook
            entries = self.rules[hook]
            name = chain_name(self.faults.tag, builtin)
            partition = [e for e in entries if e[0] < 0]
            shaped = [e for e in entries if e[0] >= 0]
            ordered = list(partition)
            if skip_marked and shaped:
                mark = f"0x{SHAPER_MARK:x}/0x{SHAPER_MARK_MASK:x}"
                ordered.append(
                    (
                        -1,
                        (
                            "-m",
                            "mark",
                            "--mark",
                            mark,
                            "-m",
                            "comment",
                            "--comment",
                            self.comment,
                            "-j",
                            "RETURN",
                        ),
                        True,
                    )
                )
            owners = sorted({e[0] for e in shaped})
            for position, owner in enumerate(owners):
                own = [e for e in shaped if e[0] == owner]
                later = position + 1 < len(owners)
                for entry in own:
                    if entry[1][-1] == "RETURN":
                        # Only needed when a later shape could match and this shape
                        # has no terminal rule for these packets.
                        if later and not any(e[2] for e in own):
                            ordered.append(entry)
                        continue
                    ordered.append(entry)
            if not [e for e in ordered if e[1][-1] != "RETURN"]:
                continue
            chains.append(Chain(table, name, builtin, self.comment))
            rules.extend(Rule(table, name, args) for _, args, _ in ordered)
        return tuple(chains), tuple(rules)

    # tc ---------------------------------------------------------------------------

    def _devices_for(self, selector: Selector) -> list[Interface]:
        if not selector.peers:
            if not self.interfaces:
                raise FaultError("no interface to shape: the service has no network")
            return list(self.interfaces)
        chosen = [i for i in self.interfaces if any(i.reaches(p) for p in selector.peers)]
        if chosen:
            return chosen
        routed = [i for i in self.interfaces if i.default_route]
        return routed or list(self.interfaces)

    def _tc(
        self,
    ) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]], list[str], list[str], list[str]]:
        per_device: dict[tuple[str, Way], list[tuple[int, Shape]]] = {}
        for index, shape in enumerate(self.faults.shapes):
            wants_class = shape.rate is not None or (self.caps.netem and needs_netem(shape))
            if not wants_class:
                continue
            if not self.caps.htb:
                raise FaultUnsupported("rate and netem shaping need the htb qdisc")
            for way in shape.selector.ways:
                for iface in self._devices_for(shape.selector):
                    per_device.setdefault((iface.name, way), []).append((index, shape))
        tc: list[tuple[str, ...]] = []
        links: list[tuple[str, ...]] = []
        roots: list[str] = []
        ingress: list[str] = []
        ifbs: list[str] = []
        for (device, way), entries in sorted(per_device.items(), key=lambda kv: kv[0]):
            target = device
            if way == "ingress":
                if not (self.caps.ifb and self.caps.mirred):
                    raise FaultUnsupported(
                        "ingress shaping needs ifb devices and the mirred action"
                    )
                target = ifb_name(device)
                ifbs.append(target)
                ingress.append(device)
                links.append(("ip", "link", "add", target, "type", "ifb"))
                links.append(("ip", "link", "set", target, "up"))
                tc.append(("tc", "qdisc", "replace", "dev", device, "handle", "ffff:", "ingress"))
                tc.append(mirred_redirect(device, target))
            roots.append(target)
            tc.append(
                (
                    "tc",
                    "qdisc",
                    "replace",
                    "dev",
                    target,
                    "root",
                    "handle",
                    TC_HANDLE,
                    "htb",
                    "default",
                    "0",
                )
            )
            for index, shape in entries:
                minor = f"{_CLASS_MINOR_BASE + index:x}"
                classid = f"{TC_MAJOR:x}:{minor}"
                rate = (shape.rate or UNLIMITED).tc()
                tc.append(
                    (
                        "tc",
                        "class",
                        "replace",
                        "dev",
                        target,
                        "parent",
                        TC_HANDLE,
                        "classid",
                        classid,
                        "htb",
                        "rate",
                        rate,
                        "ceil",
                        rate,
                        "quantum",
                        "1514",
                    )
                )
                if self.caps.netem and needs_netem(shape):
                    handle = f"{_NETEM_MAJOR_BASE + _CLASS_MINOR_BASE + index:x}:"
                    tc.append(
                        (
                            "tc",
                            "qdisc",
                            "replace",
                            "dev",
                            target,
                            "parent",
                            classid,
                            "handle",
                            handle,
                            "netem",
                            "limit",
                            str(NETEM_LIMIT),
                            *netem_args(shape),
                        )
                    )
                for match in _u32_matches(shape.selector, way):
                    tc.append(
                        (
                            "tc",
                            "filter",
                            "add",
                            "dev",
                            target,
                            "parent",
                            TC_HANDLE,
                            "protocol",
                            "ip",
                            "prio",
                            str(index + 1),
                            "u32",
                            *match,
                            "flowid",
                            classid,
                        )
                    )
        return tc, links, roots, ingress, ifbs

    def build(self) -> KernelPlan:
        self._partition_rules()
        self._shape_rules()
        chains, rules = self._iptables()
        tc, links, roots, ingress, ifbs = self._tc()
        queues = None
        if self.queues:
            queues = NamespaceQueues(
                netns=self.faults.netns, label=self.faults.label, queues=tuple(self.queues)
            )
            self.notes.append(
                f"delay/duplicate/corrupt go through the userspace shaper "
                f"({len(self.queues)} queue(s)); without it packets pass unshaped"
            )
        return KernelPlan(
            tag=self.faults.tag,
            label=self.faults.label,
            chains=chains,
            rules=rules,
            links=tuple(links),
            tc=tuple(tc),
            root_devices=tuple(roots),
            ingress_devices=tuple(ingress),
            ifbs=tuple(ifbs),
            queues=queues,
            notes=tuple(self.notes),
        )


def _queue_spec(num: int, way: Way, shape: Shape) -> QueueSpec:
    def frac(value: object) -> float:
        fraction = getattr(value, "fraction", 0.0)
        return float(fraction)

    correlated_loss = shape.loss is not None and shape.loss_correlation is not None
    return QueueSpec(
        num=num,
        mode=way,
        delay=shape.delay.seconds if shape.delay else 0.0,
        jitter=shape.jitter.seconds if shape.jitter else 0.0,
        distribution=shape.distribution,
        correlation=frac(shape.correlation),
        loss=frac(shape.loss) if correlated_loss else 0.0,
        loss_correlation=frac(shape.loss_correlation) if correlated_loss else 0.0,
        duplicate=frac(shape.duplicate),
        corrupt=frac(shape.corrupt),
        reorder=frac(shape.reorder),
    )


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


def _multiport_chunks(ports: Sequence[PortRange]) -> list[str]:
    """`--dports` lists of at most 15 slots (a range takes two)."""
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for r in ports:
        cost = 1 if r.first == r.last else 2
        if used + cost > _MULTIPORT_MAX:
            chunks.append(",".join(current))
            current, used = [], 0
        current.append(str(r))
        used += cost
    if current:
        chunks.append(",".join(current))
    return chunks


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


__all__ = [
    "DROP_HOOKS",
    "IFB_PREFIX",
    "QUEUE_BASE",
    "QUEUE_HOOKS",
    "TC_HANDLE",
    "TC_MAJOR",
    "Chain",
    "Interface",
    "KernelCaps",
    "KernelPlan",
    "Rule",
    "chain_name",
    "comment_for",
    "ifb_name",
    "needs_queue",
    "netem_args",
    "plan",
    "port_masks",
]
