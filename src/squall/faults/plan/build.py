"""`plan()`: one namespace's desired faults -> a `KernelPlan`."""

from __future__ import annotations

from collections.abc import Sequence

from squall.errors import FaultError, FaultUnsupported
from squall.faults.model import NamespaceFaults, PortRange, Selector, Shape, Way
from squall.faults.plan.model import (
    _CLASS_MINOR_BASE,
    _MULTIPORT_MAX,
    _NETEM_MAJOR_BASE,
    DROP_HOOKS,
    NETEM_LIMIT,
    QUEUE_BASE,
    QUEUE_HOOKS,
    TC_HANDLE,
    TC_MAJOR,
    UNLIMITED,
    Chain,
    Interface,
    KernelCaps,
    KernelPlan,
    Rule,
    Table,
    chain_name,
    comment_for,
    ifb_name,
)
from squall.faults.plan.tc import _u32_matches, mirred_redirect, netem_args
from squall.faults.shaper_config import SHAPER_MARK, SHAPER_MARK_MASK, NamespaceQueues, QueueSpec


def needs_queue(shape: Shape) -> bool:
    """Does the no-netem path need the userspace shaper for this shape?"""
    return bool(
        shape.delayed or shape.duplicate or shape.corrupt or (shape.loss and shape.loss_correlation)
    )


def needs_netem(shape: Shape) -> bool:
    return bool(shape.delayed or shape.loss or shape.duplicate or shape.corrupt)


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
