"""Reading back what Squall left in a namespace: `iptables-save` and `tc` output, parsed."""

from __future__ import annotations

import functools
import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from squall.errors import UsageError
from squall.faults.plan import (
    IFB_PREFIX,
    TC_HANDLE,
    Chain,
    KernelPlan,
    Rule,
    Table,
    comment_for,
    ifb_name,
)
from squall.linux.commands import Log, Runner, run_all
from squall.units import parse_rate


@dataclass(frozen=True)
class Qdisc:
    dev: str
    kind: str
    handle: str
    parent: str
    """`root`, `ingress` or the parent class id."""
    options: str = ""


@dataclass(frozen=True)
class TcClass:
    dev: str
    classid: str
    rate_bits: int


@dataclass(frozen=True)
class ActualFaults:
    """What the kernel of one namespace really holds for one tag (for `status`)."""

    netns: str
    tag: str
    chains: tuple[Chain, ...] = ()
    rules: tuple[Rule, ...] = ()
    jumps: tuple[Chain, ...] = ()
    """One entry per jump found; a chain listed twice has a duplicate jump."""
    qdiscs: tuple[Qdisc, ...] = ()
    classes: tuple[TcClass, ...] = ()
    ifbs: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.chains or self.rules or self.jumps or self.qdiscs or self.ifbs)

    def drift(self, plan: KernelPlan) -> list[str]:
        """Differences between the plan and the kernel, one line each; empty if none."""
        out: list[str] = []
        want = {_normalise(r.line()) for r in plan.rules}
        have = {_normalise(r.line()) for r in self.rules}
        out += [f"missing rule: {line}" for line in sorted(want - have)]
        out += [f"unexpected rule: {line}" for line in sorted(have - want)]
        jumps = [c.name for c in self.jumps]
        for chain in plan.chains:
            if jumps.count(chain.name) != 1:
                out.append(f"{chain.name}: {jumps.count(chain.name)} jumps from {chain.hook}")
        for name in sorted(set(jumps) - {c.name for c in plan.chains}):
            out.append(f"unexpected jump to {name}")
        want_classes = _planned_classes(plan)
        have_classes = {(c.dev, c.classid): c.rate_bits for c in self.classes}
        for key, rate in sorted(want_classes.items()):
            got = have_classes.get(key)
            if got is None:
                out.append(f"missing tc class {key[1]} on {key[0]}")
            elif abs(got - rate) > rate * 0.02:
                out.append(f"tc class {key[1]} on {key[0]}: rate {got}bit, want {rate}bit")
        for key in sorted(set(have_classes) - set(want_classes)):
            out.append(f"unexpected tc class {key[1]} on {key[0]}")
        roots = {q.dev for q in self.qdiscs if q.handle == TC_HANDLE and q.parent == "root"}
        for dev in sorted(set(plan.root_devices) ^ roots):
            state = "missing" if dev in plan.root_devices else "unexpected"
            out.append(f"{state} root qdisc {TC_HANDLE} on {dev}")
        for name in sorted(set(plan.ifbs) ^ set(self.ifbs)):
            out.append(f"{'missing' if name in plan.ifbs else 'unexpected'} ifb {name}")
        return out


def _planned_classes(plan: KernelPlan) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for argv in plan.tc:
        if argv[1:3] == ("class", "replace"):
            dev = argv[argv.index("dev") + 1]
            classid = argv[argv.index("classid") + 1]
            out[(dev, classid)] = parse_rate(argv[argv.index("rate") + 1]).bits_per_second
    return out


def _normalise(line: str) -> str:
    """iptables-save prints probabilities rounded to its 2^-31 step."""
    return re.sub(r"--probability (\S+)", lambda m: f"--probability {float(m[1]):.6f}", line)


@dataclass
class IptablesState:
    """The parts of `iptables-save` output that belong to one tag."""

    chains: list[Chain] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    jumps: list[Chain] = field(default_factory=list)


def parse_save(text: str, tag: str) -> IptablesState:
    prefix = f"SQUALL-{tag}-"
    comment = comment_for(tag)
    found = IptablesState()
    table: Table | None = None
    for line in text.splitlines():
        if line.startswith("*"):
            name = line[1:].strip()
            table = name if name in ("filter", "mangle") else None  # type: ignore[assignment]
        elif table is None:
            continue
        elif line.startswith(":") and line[1:].startswith(prefix):
            name = line[1:].split()[0]
            found.chains.append(Chain(table, name, _hook_of(name), comment))
        elif line.startswith("-A "):
            args = shlex.split(line)
            chain = args[1]
            if chain.startswith(prefix):
                found.rules.append(Rule(table, chain, tuple(args[2:])))
            elif "-j" in args and args[args.index("-j") + 1].startswith(prefix):
                target = args[args.index("-j") + 1]
                found.jumps.append(Chain(table, target, chain, comment))
    return found


_HOOKS = {"OUT": "OUTPUT", "IN": "INPUT", "POST": "POSTROUTING", "PRE": "PREROUTING"}


def _hook_of(chain: str) -> str:
    return _HOOKS.get(chain.rsplit("-", 1)[-1], "OUTPUT")


def parse_qdiscs(text: str) -> list[Qdisc]:
    out: list[Qdisc] = []
    for raw in json.loads(text or "[]"):
        parent = "root" if raw.get("root") else str(raw.get("parent", ""))
        if raw.get("kind") == "ingress":
            parent = "ingress"
        options = raw.get("options") or {}
        out.append(
            Qdisc(
                dev=str(raw.get("dev", "")),
                kind=str(raw.get("kind", "")),
                handle=str(raw.get("handle", "")),
                parent=parent,
                options=json.dumps(options, sort_keys=True) if options else "",
            )
        )
    return out


_CLASS_RE = re.compile(r"^class htb (\S+) .*?\brate (\S+)")


def parse_classes(dev: str, text: str) -> list[TcClass]:
    out: list[TcClass] = []
    for line in text.splitlines():
        match = _CLASS_RE.match(line.strip())
        if match:
            try:
                bits = parse_rate(match[2]).bits_per_second
            except UsageError:
                bits = 0
            out.append(TcClass(dev, match[1], bits))
    return out


@dataclass(frozen=True)
class Snapshot:
    iptables: IptablesState
    qdiscs: tuple[Qdisc, ...]
    ifbs: tuple[str, ...]


def snapshot(ns: Runner, tag: str, want_ifbs: bool) -> Snapshot:
    saved = ns.run(("iptables-save",)).stdout
    qdiscs = parse_qdiscs(ns.run(("tc", "-j", "qdisc", "show")).stdout)
    ifbs: tuple[str, ...] = ()
    ingress = any(q.kind == "ingress" for q in qdiscs)
    if want_ifbs or ingress or any(q.dev.startswith(IFB_PREFIX) for q in qdiscs):
        links = json.loads(ns.run(("ip", "-j", "link", "show", "type", "ifb")).stdout or "[]")
        ifbs = tuple(
            str(link["ifname"]) for link in links if str(link["ifname"]).startswith(IFB_PREFIX)
        )
    return Snapshot(parse_save(saved, tag), tuple(qdiscs), ifbs)


def _is_ours(q: Qdisc, ifbs: Sequence[str]) -> bool:
    """Squall's root htb, the netem children under it, ingress feeding a Squall ifb."""
    if q.handle == TC_HANDLE or q.parent.startswith(TC_HANDLE):
        return True
    return q.kind == "ingress" and ifb_name(q.dev) in ifbs


def read_back(netns: str, tag: str, log: Log | None = None) -> ActualFaults:
    """What the kernel holds for `tag` in `netns`: chains, rules, jumps, qdiscs, ifbs."""
    ns = Runner(log, netns)
    snap = snapshot(ns, tag, want_ifbs=True)
    ours = [q for q in snap.qdiscs if _is_ours(q, snap.ifbs)]
    classes: list[TcClass] = []
    for dev in sorted({q.dev for q in ours if q.handle == TC_HANDLE}):
        text = ns.run(("tc", "class", "show", "dev", dev)).stdout
        classes += parse_classes(dev, text)
    return ActualFaults(
        netns=netns,
        tag=tag,
        chains=tuple(snap.iptables.chains),
        rules=tuple(snap.iptables.rules),
        jumps=tuple(snap.iptables.jumps),
        qdiscs=tuple(ours),
        classes=tuple(classes),
        ifbs=snap.ifbs,
    )


def read_back_many(
    netns_paths: Sequence[str], tag: str, log: Log | None = None
) -> dict[str, ActualFaults]:
    results = run_all([functools.partial(read_back, n, tag, log) for n in netns_paths])
    return dict(zip(netns_paths, results, strict=True))
