"""The vocabulary of a kernel plan: interfaces, capabilities, chains, rules, the plan.

Also the names Squall gives what it puts in a namespace (chains, tc handles, ifb
devices), by which it finds them again. Pure data: no root, no I/O.
"""

from __future__ import annotations

import ipaddress
import shlex
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from squall.faults.model import Way
from squall.faults.shaper_config import NamespaceQueues, QueueSpec
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
