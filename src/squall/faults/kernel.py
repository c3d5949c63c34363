"""Make a network namespace's kernel match a `KernelPlan`, read it back, clear it.

Every command is an argv list run from the host inside the namespace, never a shell.
Per namespace, an apply is: one in-process rtnetlink read (interfaces, addresses,
default routes, qdiscs, ifb devices and the namespace's cookie: no process at all),
then as few processes as the kernel allows: one `iptables-restore --noflush` (own
chains are declared, hence flushed and refilled, atomically; jumps from built-in
chains are added only when missing), one `ip -batch` for ifb devices, one `tc -batch`
that removes Squall's qdiscs and builds the planned ones. `iptables-save` is only
needed when the caller does not know what Squall left in the namespace (`Applied`):
when it does, the restore checks that knowledge (`-C`, `-D`, `-X` fail on a wrong
guess, atomically) and falls back to reading `iptables-save` if it was wrong.

Process start-up dominates, so commands run from worker threads that have entered the
namespace (`setns`, the thread only; children inherit it), which spares an `nsenter`
per command, and many namespaces are done in parallel. `-v` logs each command as the
equivalent `nsenter --net=PATH -- ...`. Failures of those programs become
`KernelCommandFailed` in `_Namespace.run`, the one place they are translated.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import ipaddress
import json
import os
import re
import shlex
import socket
import struct
import subprocess
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

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
    mirred_redirect,
)
from squall.linux.netns import entered
from squall.units import parse_rate

Log = Callable[[str], None]
T = TypeVar("T")
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
        shown = tuple(argv)
        if self.netns is not None:
            shown = ("nsenter", f"--net={self.netns}", "--", *argv)
        if self.log:
            self.log(" ".join(shlex.quote(a) for a in shown) + (" <<EOF" if stdin else ""))
            if stdin:
                for line in stdin.rstrip("\n").splitlines():
                    self.log("    " + line)
        try:
            with self.entered():
                proc = subprocess.run(
                    tuple(argv),
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

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Move this thread into the namespace (children it starts are born there).

        Raises:
            FaultError: the namespace is gone or cannot be entered (not root).
        """
        if self.netns is None:
            yield
            return
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(entered(self.netns))
        except FileNotFoundError as exc:
            raise FaultError(f"network namespace {self.netns} is gone", netns=self.netns) from exc
        except OSError as exc:
            raise FaultError(
                f"cannot enter network namespace {self.netns}: {exc.strerror}", netns=self.netns
            ) from exc
        with stack:
            yield


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


# Reading the kernel in-process (rtnetlink) -----------------------------------------
# The kernel's own messages, read from a NETLINK_ROUTE socket opened inside the
# namespace: what `ip -j addr/route/link` and `tc -j qdisc show` print, without a process.

_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP_INTR = 0x10
_NLM_F_DUMP = 0x300
_RTM_GETLINK = 18
_RTM_GETADDR = 22
_RTM_GETROUTE = 26
_RTM_GETQDISC = 38
_IFLA_IFNAME = 3
_IFLA_LINKINFO = 18
_IFLA_INFO_KIND = 1
_IFA_ADDRESS = 1
_IFA_LOCAL = 2
_RTA_OIF = 4
_RTA_TABLE = 15
_RT_TABLE_MAIN = 254
_TCA_KIND = 1
_IFF_LOOPBACK = 0x8
_TC_H_ROOT = 0xFFFFFFFF
_SO_NETNS_COOKIE = 71
_DUMP_TRIES = 3
_HEADER = struct.Struct("=IHHII")
_ATTR = struct.Struct("=HH")
_IFINFO = struct.Struct("=BxHiII")
_IFADDR = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_TCMSG = struct.Struct("=BxxxiIII")


def _attrs(data: bytes, offset: int = 0) -> dict[int, bytes]:
    """Netlink attributes from `offset` on, by type."""
    out: dict[int, bytes] = {}
    while offset + _ATTR.size <= len(data):
        length, kind = _ATTR.unpack_from(data, offset)
        if length < _ATTR.size:
            break
        out[kind & 0x3FFF] = data[offset + _ATTR.size : offset + length]
        offset += (length + 3) & ~3
    return out


def _text(raw: bytes | None) -> str:
    return (raw or b"").split(b"\0", 1)[0].decode(errors="replace")


def _tc_classid(value: int) -> str:
    """As tc prints a parent: `root`, `5351:10`, `ffff:fff1`, `5351:`."""
    if value == _TC_H_ROOT:
        return "root"
    major, minor = value >> 16, value & 0xFFFF
    if major == 0:
        return f":{minor:x}"
    return f"{major:x}:" if minor == 0 else f"{major:x}:{minor:x}"


def _dump(sock: socket.socket, kind: int, body: bytes, seq: int) -> list[bytes]:
    """One netlink dump: the payload of each message, header stripped.

    Raises:
        OSError: the kernel answered with an error, or the dump kept being interrupted.
    """
    for _ in range(_DUMP_TRIES):
        request = _HEADER.pack(_HEADER.size + len(body), kind, _NLM_F_REQUEST | _NLM_F_DUMP, seq, 0)
        sock.send(request + body)
        out: list[bytes] = []
        interrupted = done = False
        while not done:
            data = sock.recv(1 << 16)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, mtype, flags, got_seq, _pid = _HEADER.unpack_from(data, offset)
                if length < _HEADER.size:
                    raise OSError(errno.EPROTO, "malformed netlink message")
                payload = data[offset + _HEADER.size : offset + length]
                offset += (length + 3) & ~3
                if got_seq != seq:
                    continue
                interrupted = interrupted or bool(flags & _NLM_F_DUMP_INTR)
                if mtype == _NLMSG_DONE:
                    done = True
                elif mtype == _NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", payload)
                    if code:
                        raise OSError(-code, os.strerror(-code))
                    done = True
                else:
                    out.append(payload)
        if not interrupted:
            return out
        seq += 1
    raise OSError(errno.EINTR, "netlink dump interrupted by changes, again and again")


@dataclass(frozen=True)
class Observed:
    """One in-process netlink read of a namespace: all that planning and `apply` need
    from it except iptables (which has no netlink interface Squall can read cheaply)."""

    netns: str
    cookie: int | None
    """The namespace's `SO_NETNS_COOKIE`: unlike an inode number, never reused while
    the machine runs (None where the kernel is older than 5.14)."""
    interfaces: tuple[Interface, ...] = ()
    qdiscs: tuple[Qdisc, ...] = ()
    ifbs: tuple[str, ...] = ()


def observe(netns: str, log: Log | None = None) -> Observed:
    """Interfaces (IPv4, loopback left out), qdiscs, Squall's ifbs and the cookie of `netns`.

    Raises:
        FaultError: the namespace is gone or cannot be entered, or netlink failed.
    """
    ns = _Namespace(netns, log)
    if log:
        log(f"# netlink {netns}: links, IPv4 addresses, routes, qdiscs")
    with ns.entered():
        sock = socket.socket(
            socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE
        )
    try:
        with sock:
            sock.settimeout(COMMAND_TIMEOUT)
            sock.bind((0, 0))
            return _observe(netns, sock)
    except OSError as exc:
        raise FaultError(f"reading {netns} over netlink: {exc}", netns=netns) from exc


def _observe(netns: str, sock: socket.socket) -> Observed:
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, _SO_NETNS_COOKIE, 8)
        cookie: int | None = struct.unpack("=Q", raw)[0]
    except OSError:
        cookie = None
    names: dict[int, str] = {}
    loopback: set[int] = set()
    ifbs: list[str] = []
    for msg in _dump(sock, _RTM_GETLINK, _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0), 1):
        _family, _type, index, flags, _change = _IFINFO.unpack_from(msg)
        attrs = _attrs(msg, _IFINFO.size)
        name = _text(attrs.get(_IFLA_IFNAME))
        names[index] = name
        if flags & _IFF_LOOPBACK:
            loopback.add(index)
        info = _attrs(attrs.get(_IFLA_LINKINFO, b""))
        if _text(info.get(_IFLA_INFO_KIND)) == "ifb" and name.startswith(IFB_PREFIX):
            ifbs.append(name)
    addresses: dict[int, list[str]] = {}
    for msg in _dump(sock, _RTM_GETADDR, _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0), 2):
        family, prefixlen, _flags, _scope, index = _IFADDR.unpack_from(msg)
        attrs = _attrs(msg, _IFADDR.size)
        local = attrs.get(_IFA_LOCAL) or attrs.get(_IFA_ADDRESS)
        if family == socket.AF_INET and local is not None and len(local) == 4:
            addresses.setdefault(index, []).append(f"{ipaddress.IPv4Address(local)}/{prefixlen}")
    default_devs: set[int] = set()
    for msg in _dump(sock, _RTM_GETROUTE, _RTMSG.pack(socket.AF_INET, *(0,) * 8), 3):
        family, dst_len, _src, _tos, table, _proto, _scope, _kind, _flags = _RTMSG.unpack_from(msg)
        attrs = _attrs(msg, _RTMSG.size)
        if _RTA_TABLE in attrs:
            (table,) = struct.unpack_from("=I", attrs[_RTA_TABLE])
        main = table == _RT_TABLE_MAIN and _RTA_OIF in attrs
        if family == socket.AF_INET and dst_len == 0 and main:
            default_devs.add(struct.unpack_from("=i", attrs[_RTA_OIF])[0])
    qdiscs: list[Qdisc] = []
    for msg in _dump(sock, _RTM_GETQDISC, _TCMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0), 4):
        _family, index, handle, parent, _info = _TCMSG.unpack_from(msg)
        kind = _text(_attrs(msg, _TCMSG.size).get(_TCA_KIND))
        qdiscs.append(
            Qdisc(
                dev=names.get(index, ""),
                kind=kind,
                handle=f"{handle >> 16:x}:",
                parent="ingress" if kind == "ingress" else _tc_classid(parent) if parent else "",
            )
        )
    interfaces = tuple(
        Interface(name, tuple(addresses[index]), default_route=index in default_devs)
        for index, name in names.items()
        if name and index not in loopback and addresses.get(index)
    )
    return Observed(netns, cookie, interfaces, tuple(qdiscs), tuple(ifbs))


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
    """The namespace's interfaces with IPv4 addresses (loopback left out), over netlink.

    Faults are planned per interface, so nothing assumes `eth0` or one network.
    """
    return list(observe(netns, log).interfaces)


# Writing the kernel ---------------------------------------------------------------


def _restore_text(plan: KernelPlan, found: _Iptables, check_jumps: bool = False) -> str:
    """Replace Squall's chains for the plan, fix jumps, drop chains no longer planned.

    Args:
        found: Squall's chains and jumps in the namespace (read, or recorded).
        check_jumps: `found` is a record, not a reading: check (`-C`) each jump it
            promises, so that the restore fails, changing nothing, if it was wrong
            (deleting a recorded stale chain fails likewise).
    """
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
            elif check_jumps:
                body.append(chain.jump_line("-C"))
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


@dataclass(frozen=True)
class Applied:
    """What a successful `apply` left in a namespace's iptables, kept for the next one.

    The namespace then held exactly `chains` for `tag`, each with one jump. A record
    is only used while the namespace has the same cookie, and the restore built from it
    checks every jump it relies on, so a wrong record costs an `iptables-save`, not a
    wrong ruleset.
    """

    netns: str
    cookie: int
    tag: str
    chains: tuple[Chain, ...] = ()


_RESTORE = ("iptables-restore", "-w", "--noflush")


def _write_iptables(
    ns: _Namespace, plan: KernelPlan, cookie: int | None, known: Applied | None
) -> None:
    if known is not None and (known.netns, known.cookie, known.tag) == (ns.netns, cookie, plan.tag):
        recorded = _Iptables(chains=list(known.chains), jumps=list(known.chains))
        restore = _restore_text(plan, recorded, check_jumps=True)
        if not restore or ns.run(_RESTORE, stdin=restore, check=False).returncode == 0:
            return
        if ns.log:
            ns.log(f"# {ns.netns}: iptables differ from Squall's record; reading them")
    found = _parse_save(ns.run(("iptables-save",)).stdout, plan.tag)
    restore = _restore_text(plan, found)
    if restore:
        ns.run(_RESTORE, stdin=restore)


def apply(
    netns: str,
    plan: KernelPlan,
    log: Log | None = None,
    *,
    observed: Observed | None = None,
    known: Applied | None = None,
) -> Applied | None:
    """Make `netns` hold exactly `plan` for its tag; idempotent.

    Args:
        observed: a fresh `observe(netns)`, when the caller just made one.
        known: the record of the last apply to this namespace; spares `iptables-save`.

    Returns:
        The record for the next apply (None where the kernel has no namespace cookie).

    Raises:
        KernelCommandFailed: a command was refused (argv and stderr attached).
        FaultError: the namespace is gone or a tool is missing.
    """
    ns = _Namespace(netns, log)
    seen = observed if observed is not None else observe(netns, log)
    _write_iptables(ns, plan, seen.cookie, known)
    existing = set(seen.ifbs)
    adds = [
        " ".join(argv[1:]) for argv in plan.links if not (argv[2] == "add" and argv[3] in existing)
    ]
    if adds:
        ns.run(("ip", "-batch", "-"), stdin="\n".join(adds) + "\n")
    tc_lines = _tc_batch(plan, _Snapshot(_Iptables(), seen.qdiscs, seen.ifbs))
    if tc_lines:
        ns.run(("tc", "-batch", "-"), stdin="\n".join(tc_lines) + "\n")
    stale = sorted(existing - set(plan.ifbs))
    if stale:
        ns.run(("ip", "-batch", "-"), stdin="".join(f"link del {n}\n" for n in stale))
    if seen.cookie is None:
        return None
    return Applied(netns, seen.cookie, plan.tag, plan.chains)


def clear(netns: str, tag: str, log: Log | None = None) -> None:
    """Remove every rule, chain, jump, qdisc and ifb that Squall put in `netns`.

    Always reads `iptables-save`: this is what `down` relies on to leave nothing behind.
    """
    apply(netns, KernelPlan(tag=tag, label=""), log)


def _parallel(jobs: Sequence[Callable[[], T]]) -> list[T]:
    """Run all jobs; then raise the first failure, naming how many failed."""
    if not jobs:
        return []
    errors: list[BaseException] = []
    results: list[T] = []
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(jobs))) as pool:
        for future in [pool.submit(job) for job in jobs]:
            exc = future.exception()
            if exc is None:
                results.append(future.result())
            else:
                errors.append(exc)
    if errors:
        first = errors[0]
        if len(errors) > 1 and isinstance(first, FaultError):
            first.message += f" (and {len(errors) - 1} more namespace(s) failed)"
            first.args = (first.message,)
        raise first
    return results


def apply_many(
    plans: Sequence[tuple[str, KernelPlan]],
    log: Log | None = None,
    *,
    observed: Mapping[str, Observed] | None = None,
    known: Mapping[str, Applied] | None = None,
) -> list[Applied]:
    """`apply` to many namespaces at once (threads: process start-up dominates).

    Returns the records of the namespaces that have a cookie.
    """
    seen = observed or {}
    records = known or {}
    jobs = [
        functools.partial(apply, n, p, log, observed=seen.get(n), known=records.get(n))
        for n, p in plans
    ]
    return [a for a in _parallel(jobs) if a is not None]


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
        mirred = ifb and ok(*mirred_redirect("lo", "sqcaps0"))
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
    "Applied",
    "Completed",
    "Observed",
    "Qdisc",
    "TcClass",
    "apply",
    "apply_many",
    "clear",
    "clear_many",
    "detect_caps",
    "list_interfaces",
    "observe",
    "read_back",
    "read_back_many",
]
