"""The iptables half of a plan: partitions, loss without netem, and the NFQUEUE rules
that hand delayed, duplicated or corrupted packets to the userspace shaper.

Every rule sits in Squall's own chain for its hook and carries the tag's comment; the
first shape whose selector matches a packet applies (`RETURN` rules mark where one
shape's packets stop when a later shape could match them too).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from squall.errors import FaultError, FaultUnsupported
from squall.faults.model import NamespaceFaults, PortRange, Selector, Shape, Way
from squall.faults.plan.model import (
    _MULTIPORT_MAX,
    DROP_HOOKS,
    QUEUE_BASE,
    QUEUE_HOOKS,
    Chain,
    Interface,
    KernelCaps,
    Rule,
    Table,
    chain_name,
    comment_for,
)
from squall.faults.shaper_config import SHAPER_MARK, SHAPER_MARK_MASK, QueueSpec


def collapsed(cidrs: Sequence[str]) -> list[str]:
    """The fewest CIDRs covering exactly `cidrs`: one side of a 500|500 partition is a
    few blocks of neighbouring addresses, so each namespace holds a dozen rules, not 1000.
    """
    networks = (ipaddress.IPv4Network(c) for c in cidrs)
    return [str(n) for n in ipaddress.collapse_addresses(networks)]


def needs_queue(shape: Shape) -> bool:
    """Does the no-netem path need the userspace shaper for this shape?"""
    return bool(
        shape.delayed or shape.duplicate or shape.corrupt or (shape.loss and shape.loss_correlation)
    )


class IptablesPlan:
    """Accumulates the iptables rules of one plan; a class only to share the inputs
    between its steps. `queues` holds the shaper's queues the rules send packets to."""

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

    def build(self) -> tuple[tuple[Chain, ...], tuple[Rule, ...]]:
        """Squall's chains and their rules.

        Raises:
            FaultUnsupported: loss or queueing needs a match or target the kernel lacks.
            FaultError: a shape without peers but no interface to put it on.
        """
        self._partition_rules()
        self._shape_rules()
        return self._iptables()

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
            for cidr in collapsed(cidrs):
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


__all__ = ["IptablesPlan", "needs_queue"]
