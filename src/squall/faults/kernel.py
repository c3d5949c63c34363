"""Make a network namespace's kernel match a `KernelPlan`, read it back, clear it.

Every command is an argv list run from the host under `nsenter --net=<path>`, never a
shell. Per namespace: read (`iptables-save`, `tc -j qdisc show`), then write in as few
processes as the kernel allows: one `iptables-restore --noflush` (own chains are
declared, hence flushed and refilled, atomically; jumps from built-in chains are added
only when missing), one `ip -batch` for ifb devices, one `tc -batch` that removes
Squall's qdiscs and builds the planned ones. Process start-up dominates, so many
namespaces are done in parallel threads. Failures of those programs become
`KernelCommandFailed` in `_Namespace.run`, the one place they are translated.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import subprocess
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from squall.errors import FaultError, KernelCommandFailed, UsageError
from squall.faults.plan import (
    IFB_PREFIX,
    TC_HANDLE,
    Chain,
    Interface,
    KernelCaps,
    KernelPlan,
    Rule,
    Table,
    comment_for,
    ifb_name,
)
from squall.units import parse_rate

Log = Callable[[str], None]
COMMAND_TIMEOUT = 30.0
PARALLEL = 16
"""Threads for many namespaces: each mostly waits for a child process."""


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class _Namespace:
    """Runs argv lists inside one network namespace; translates their failures."""

    def __init__(self, netns: str | None, log: Log | None = None) -> None:
        self.netns = netns
        """None: the host's own namespace (for `ip netns add`)."""
        self.log = log

    def run(self, argv: Sequence[str], stdin: str | None = None, check: bool = True) -> Completed:
        full = tuple(argv)
        if self.netns is not None:
            full = ("nsenter", f"--net={self.netns}", "--", *argv)
        if self.log:
            self.log(" ".join(shlex.quote(a) for a in full) + (" <<EOF" if stdin else ""))
            if stdin:
                for line in stdin.rstrip("\n").splitlines():
                    self.log("    " + line)
        try:
            proc = subprocess.run(
                full,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
                env={**os.environ, "LC_ALL": "C"},
                check=False,
            )
        except FileNotFoundError as exc:
            raise FaultError(
                f"{argv[0]}: not installed ({exc.filename})", netns=self.netns
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise KernelCommandFailed(
                tuple(argv), f"timed out after {COMMAND_TIMEOUT:g}s", -1, self.netns
            ) from exc
        result = Completed(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            if self.netns is not None and not os.path.exists(self.netns):
                raise FaultError(f"network namespace {self.netns} is gone", netns=self.netns)
            raise KernelCommandFailed(tuple(argv), proc.stderr, proc.returncode, self.netns)
        return result


# Reading the kernel ---------------------------------------------------------------


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
class _Iptables:
    """The parts of `iptables-save` output that belong to one tag."""

    chains: list[Chain] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    jumps: list[Chain] = field(default_factory=list)


def _parse_save(text: str, tag: str) -> _Iptables:
    prefix = f"SQUALL-{tag}-"
    comment = comment_for(tag)
    found = _Iptables()
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


def _parse_qdiscs(text: str) -> list[Qdisc]:
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


def _parse_classes(dev: str, text: str) -> list[TcClass]:
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
class _Snapshot:
    iptables: _Iptables
    qdiscs: tuple[Qdisc, ...]
    ifbs: tuple[str, ...]


def _snapshot(ns: _Namespace, tag: str, want_ifbs: bool) -> _Snapshot:
    saved = ns.run(("iptables-save",)).stdout
    qdiscs = _parse_qdiscs(ns.run(("tc", "-j", "qdisc", "show")).stdout)
    ifbs: tuple[str, ...] = ()
    ingress = any(q.kind == "ingress" for q in qdiscs)
    if want_ifbs or ingress or any(q.dev.startswith(IFB_PREFIX) for q in qdiscs):
        links = json.loads(ns.run(("ip", "-j", "link", "show", "type", "ifb")).stdout or "[]")
        ifbs = tuple(
            str(link["ifname"]) for link in links if str(link["ifname"]).startswith(IFB_PREFIX)
        )
    return _Snapshot(_parse_save(saved, tag), tuple(qdiscs), ifbs)


def _ingress_of(ifb: str, qdiscs: Iterable[Qdisc]) -> list[str]:
    """Devices whose ingress qdisc may redirect to Squall's `ifb` (named after them)."""
    return [q.dev for q in qdiscs if q.kind == "ingress" and ifb_name(q.dev) == ifb]


def _is_ours(q: Qdisc, ifbs: Sequence[str]) -> bool:
    """Squall's root htb, the netem children under it, ingress feeding a Squall ifb."""
    if q.handle == TC_HANDLE or q.parent.startswith(TC_HANDLE):
        return True
    return q.kind == "ingress" and ifb_name(q.dev) in ifbs


def read_back(netns: str, tag: str, log: Log | None = None) -> ActualFaults:
    """What the kernel holds for `tag` in `netns`: chains, rules, jumps, qdiscs, ifbs."""
    ns = _Namespace(netns, log)
    snap = _snapshot(ns, tag, want_ifbs=True)
    ours = [q for q in snap.qdiscs if _is_ours(q, snap.ifbs)]
    classes: list[TcClass] = []
    for dev in sorted({q.dev for q in ours if q.handle == TC_HANDLE}):
        text = ns.run(("tc", "class", "show", "dev", dev)).stdout
        classes += _parse_classes(dev, text)
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


def list_interfaces(netns: str, log: Log | None = None) -> list[Interface]:
    """The namespace's interfaces with IPv4 addresses (loopback left out), in one `ip` run.

    Faults are planned per interface, so nothing assumes `eth0` or one network.
    """
    ns = _Namespace(netns, log)
    out = ns.run(("ip", "-j", "-4", "-batch", "-"), stdin="addr show\nroute show default\n").stdout
    decoder = json.JSONDecoder()
    documents: list[list[dict[str, object]]] = []
    position = 0
    while position < len(out):
        while position < len(out) and out[position].isspace():
            position += 1
        if position >= len(out):
            break
        document, position = decoder.raw_decode(out, position)
        documents.append(document if isinstance(document, list) else [])
    links = documents[0] if documents else []
    routes = documents[1] if len(documents) > 1 else []
    default_devs = {str(r.get("dev")) for r in routes}
    interfaces: list[Interface] = []
    for link in links:
        name = str(link.get("ifname", ""))
        flags = link.get("flags", [])
        if not name or (isinstance(flags, list) and "LOOPBACK" in flags):
            continue
        infos = link.get("addr_info", [])
        addresses = tuple(
            f"{a['local']}/{a['prefixlen']}"
            for a in (infos if isinstance(infos, list) else [])
            if isinstance(a, dict) and a.get("family") == "inet"
        )
        if addresses:
            interfaces.append(Interface(name, addresses, default_route=name in default_devs))
    return interfaces


# Writing the kernel ---------------------------------------------------------------


def _restore_text(plan: KernelPlan, found: _Iptables) -> str:
    """Replace Squall's chains for the plan, fix jumps, drop chains no longer planned."""
    planned = {(c.table, c.name) for c in plan.chains}
    tables = sorted(
        {c.table for c in plan.chains}
        | {c.table for c in found.chains}
        | {c.table for c in found.jumps}
    )
    out: list[str] = []
    for table in tables:
        body: list[str] = [f":{c.name} - [0:0]" for c in plan.chains if c.table == table]
        body += [r.line() for r in plan.rules if r.table == table]
        for chain in (c for c in plan.chains if c.table == table):
            present = [j for j in found.jumps if j.table == table and j.name == chain.name]
            if not present:
                body.append(chain.jump_line("-I"))
            body += [chain.jump_line("-D") for _ in present[1:]]
        stale = {c.name for c in found.chains if c.table == table} | {
            j.name for j in found.jumps if j.table == table
        }
        stale -= {name for t, name in planned if t == table}
        for jump in found.jumps:
            if jump.table == table and jump.name in stale:
                body.append(jump.jump_line("-D"))
        for name in sorted(stale):
            if any(c.table == table and c.name == name for c in found.chains):
                body += [f"-F {name}", f"-X {name}"]
        if body:
            out += [f"*{table}", *body, "COMMIT"]
    return "\n".join(out) + "\n" if out else ""


def _tc_batch(plan: KernelPlan, snap: _Snapshot) -> list[str]:
    lines: list[str] = []
    dropped_ifbs = set(snap.ifbs) - set(plan.ifbs)
    ingress_devs = set(plan.ingress_devices)
    for ifb in snap.ifbs:
        ingress_devs.update(_ingress_of(ifb, snap.qdiscs))
    for q in snap.qdiscs:
        if q.kind == "ingress" and q.dev in ingress_devs:
            lines.append(f"qdisc del dev {q.dev} ingress")
        elif q.parent == "root" and q.handle == TC_HANDLE and q.dev not in dropped_ifbs:
            lines.append(f"qdisc del dev {q.dev} root")
    lines += [" ".join(argv[1:]) for argv in plan.tc]
    return lines


def apply(netns: str, plan: KernelPlan, log: Log | None = None) -> None:
    """Make `netns` hold exactly `plan` for its tag; idempotent.

    Raises:
        KernelCommandFailed: a command was refused (argv and stderr attached).
        FaultError: the namespace is gone or a tool is missing.
    """
    ns = _Namespace(netns, log)
    snap = _snapshot(ns, plan.tag, want_ifbs=bool(plan.ifbs))
    restore = _restore_text(plan, snap.iptables)
    if restore:
        ns.run(("iptables-restore", "-w", "--noflush"), stdin=restore)
    existing = set(snap.ifbs)
    adds = [
        " ".join(argv[1:]) for argv in plan.links if not (argv[2] == "add" and argv[3] in existing)
    ]
    if adds:
        ns.run(("ip", "-batch", "-"), stdin="\n".join(adds) + "\n")
    tc_lines = _tc_batch(plan, snap)
    if tc_lines:
        ns.run(("tc", "-batch", "-"), stdin="\n".join(tc_lines) + "\n")
    stale = sorted(existing - set(plan.ifbs))
    if stale:
        ns.run(("ip", "-batch", "-"), stdin="".join(f"link del {n}\n" for n in stale))


def clear(netns: str, tag: str, log: Log | None = None) -> None:
    """Remove every rule, chain, jump, qdisc and ifb that Squall put in `netns`."""
    apply(netns, KernelPlan(tag=tag, label=""), log)


def _parallel(jobs: Sequence[Callable[[], None]]) -> None:
    """Run all jobs; then raise the first failure, naming how many failed."""
    if not jobs:
        return
    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(jobs))) as pool:
        for future in [pool.submit(job) for job in jobs]:
            exc = future.exception()
            if exc is not None:
                errors.append(exc)
    if errors:
        first = errors[0]
        if len(errors) > 1 and isinstance(first, FaultError):
            first.message += f" (and {len(errors) - 1} more namespace(s) failed)"
            first.args = (first.message,)
        raise first


def apply_many(plans: Sequence[tuple[str, KernelPlan]], log: Log | None = None) -> None:
    """`apply` to many namespaces at once (threads: process start-up dominates)."""
    _parallel([functools.partial(apply, netns, plan, log) for netns, plan in plans])


def clear_many(netns_paths: Sequence[str], tag: str, log: Log | None = None) -> None:
    _parallel([functools.partial(clear, netns, tag, log) for netns in netns_paths])


def read_back_many(
    netns_paths: Sequence[str], tag: str, log: Log | None = None
) -> dict[str, ActualFaults]:
    with ThreadPoolExecutor(max_workers=max(1, min(PARALLEL, len(netns_paths)))) as pool:
        results = pool.map(lambda n: read_back(n, tag, log), netns_paths)
        return dict(zip(netns_paths, results, strict=True))


# Capabilities ---------------------------------------------------------------------


def detect_caps(log: Log | None = None) -> KernelCaps:
    """Probe this kernel in a throwaway namespace (needs root; leaves nothing behind).

    Raises:
        FaultError: the probe namespace cannot be created (not root, no `ip`).
    """
    name = f"sqcaps-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    host = _Namespace(None, log)
    try:
        host.run(("ip", "netns", "add", name))
    except KernelCommandFailed as exc:
        raise FaultError(f"cannot probe the kernel (needs root): {exc.stderr.strip()}") from exc
    ns = _Namespace(f"/run/netns/{name}", log)

    def ok(*argv: str) -> bool:
        return ns.run(argv, check=False).returncode == 0

    try:
        ok("ip", "link", "set", "lo", "up")
        netem = ok("tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms")
        ok("tc", "qdisc", "del", "dev", "lo", "root")
        htb = ok("tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb")
        ok("tc", "qdisc", "del", "dev", "lo", "root")
        tbf = ok(
            "tc",
            "qdisc",
            "add",
            "dev",
            "lo",
            "root",
            "tbf",
            "rate",
            "1mbit",
            "burst",
            "10kb",
            "latency",
            "50ms",
        )
        ok("tc", "qdisc", "del", "dev", "lo", "root")
        ifb = ok("ip", "link", "add", "sqcaps0", "type", "ifb")
        ok("tc", "qdisc", "add", "dev", "lo", "handle", "ffff:", "ingress")
        mirred = ifb and ok(
            "tc",
            "filter",
            "add",
            "dev",
            "lo",
            "parent",
            "ffff:",
            "protocol",
            "ip",
            "prio",
            "1",
            "u32",
            "match",
            "u32",
            "0",
            "0",
            "action",
            "mirred",
            "egress",
            "redirect",
            "dev",
            "sqcaps0",
        )
        police = ok(
            "tc",
            "filter",
            "add",
            "dev",
            "lo",
            "parent",
            "ffff:",
            "protocol",
            "ip",
            "prio",
            "2",
            "u32",
            "match",
            "u32",
            "0",
            "0",
            "police",
            "rate",
            "1mbit",
            "burst",
            "10k",
            "drop",
        )
        nfqueue = ok(
            "iptables", "-w", "-A", "OUTPUT", "-j", "NFQUEUE", "--queue-num", "1", "--queue-bypass"
        )
        statistic = ok(
            "iptables",
            "-w",
            "-A",
            "OUTPUT",
            "-m",
            "statistic",
            "--mode",
            "random",
            "--probability",
            "0.5",
            "-j",
            "ACCEPT",
        )
        conntrack = ok(
            "iptables",
            "-w",
            "-A",
            "OUTPUT",
            "-m",
            "conntrack",
            "--ctdir",
            "ORIGINAL",
            "-j",
            "ACCEPT",
        )
        version = ns.run(("iptables", "-V"), check=False)
        backend: str | None = None
        if version.returncode == 0:
            backend = "nft" if "nf_tables" in version.stdout else "legacy"
    finally:
        host.run(("ip", "netns", "del", name), check=False)
    return KernelCaps(
        netem=netem,
        htb=htb,
        tbf=tbf,
        ifb=ifb,
        mirred=mirred,
        police=police,
        nfqueue=nfqueue,
        statistic=statistic,
        conntrack=conntrack,
        iptables_backend=backend,
    )


__all__ = [
    "ActualFaults",
    "Completed",
    "Qdisc",
    "TcClass",
    "apply",
    "apply_many",
    "clear",
    "clear_many",
    "detect_caps",
    "read_back",
    "read_back_many",
]
