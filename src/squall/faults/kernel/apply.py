"""Make a network namespace's kernel match a `KernelPlan`, or clear it.

Per namespace, an apply is: one in-process rtnetlink read (interfaces, addresses,
default routes, qdiscs, ifb devices and the namespace's cookie: no process at all),
then as few processes as the kernel allows: one `iptables-restore --noflush` (own
chains are declared, hence flushed and refilled, atomically; jumps from built-in
chains are added only when missing), one `ip -batch` for ifb devices, one `tc -batch`
that removes Squall's qdiscs and builds the planned ones. `iptables-save` is only
needed when the caller does not know what Squall left in the namespace (`Applied`):
when it does, the restore checks that knowledge (`-C`, `-D`, `-X` fail on a wrong
guess, atomically) and falls back to reading `iptables-save` if it was wrong.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from squall.faults.kernel.readback import IptablesState, Qdisc, Snapshot, parse_save
from squall.faults.kernel.rtnetlink import Observed, observe
from squall.faults.plan import TC_HANDLE, Chain, KernelPlan, ifb_name
from squall.linux.commands import Log, Runner, run_all


def _ingress_of(ifb: str, qdiscs: Iterable[Qdisc]) -> list[str]:
    """Devices whose ingress qdisc may redirect to Squall's `ifb` (named after them)."""
    return [q.dev for q in qdiscs if q.kind == "ingress" and ifb_name(q.dev) == ifb]


def restore_text(plan: KernelPlan, found: IptablesState, check_jumps: bool = False) -> str:
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


def tc_batch(plan: KernelPlan, snap: Snapshot) -> list[str]:
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
    ns: Runner, plan: KernelPlan, cookie: int | None, known: Applied | None
) -> None:
    if known is not None and (known.netns, known.cookie, known.tag) == (ns.netns, cookie, plan.tag):
        recorded = IptablesState(chains=list(known.chains), jumps=list(known.chains))
        restore = restore_text(plan, recorded, check_jumps=True)
        if not restore or ns.run(_RESTORE, stdin=restore, check=False).returncode == 0:
            return
        ns.say(f"# {ns.netns}: iptables differ from Squall's record; reading them")
    found = parse_save(ns.run(("iptables-save",)).stdout, plan.tag)
    restore = restore_text(plan, found)
    if restore:
        ns.run(_RESTORE, stdin=restore)


def apply(
    netns: str,
    plan: KernelPlan,
    log: Log | None = None,
    *,
    observed: Observed | None = None,
    known: Applied | None = None,
    runner: Runner | None = None,
) -> Applied | None:
    """Make `netns` hold exactly `plan` for its tag; idempotent.

    Args:
        observed: a fresh `observe(netns)`, when the caller just made one.
        known: the record of the last apply to this namespace; spares `iptables-save`.
        runner: the host runner to run through (its log and test hook); default one
            logging to `log`.

    Returns:
        The record for the next apply (None where the kernel has no namespace cookie).

    Raises:
        KernelCommandFailed: a command was refused (argv and stderr attached).
        FaultError: the namespace is gone or a tool is missing.
    """
    ns = (runner or Runner(log)).inside(netns)
    seen = observed if observed is not None else observe(netns, ns.log)
    _write_iptables(ns, plan, seen.cookie, known)
    existing = set(seen.ifbs)
    adds = [
        " ".join(argv[1:]) for argv in plan.links if not (argv[2] == "add" and argv[3] in existing)
    ]
    if adds:
        ns.run(("ip", "-batch", "-"), stdin="\n".join(adds) + "\n")
    tc_lines = tc_batch(plan, Snapshot(IptablesState(), seen.qdiscs, seen.ifbs))
    if tc_lines:
        ns.run(("tc", "-batch", "-"), stdin="\n".join(tc_lines) + "\n")
    stale = sorted(existing - set(plan.ifbs))
    if stale:
        ns.run(("ip", "-batch", "-"), stdin="".join(f"link del {n}\n" for n in stale))
    if seen.cookie is None:
        return None
    return Applied(netns, seen.cookie, plan.tag, plan.chains)


def clear(netns: str, tag: str, log: Log | None = None, *, runner: Runner | None = None) -> None:
    """Remove every rule, chain, jump, qdisc and ifb that Squall put in `netns`.

    Always reads `iptables-save`: this is what `down` relies on to leave nothing behind.
    """
    apply(netns, KernelPlan(tag=tag, label=""), log, runner=runner)


def apply_many(
    plans: Sequence[tuple[str, KernelPlan]],
    log: Log | None = None,
    *,
    observed: Mapping[str, Observed] | None = None,
    known: Mapping[str, Applied] | None = None,
    runner: Runner | None = None,
) -> list[Applied]:
    """`apply` to many namespaces at once (threads: process start-up dominates).

    Returns the records of the namespaces that have a cookie.
    """
    seen = observed or {}
    records = known or {}
    jobs = [
        functools.partial(
            apply, n, p, log, observed=seen.get(n), known=records.get(n), runner=runner
        )
        for n, p in plans
    ]
    return [a for a in run_all(jobs) if a is not None]


def clear_many(
    netns_paths: Sequence[str], tag: str, log: Log | None = None, *, runner: Runner | None = None
) -> None:
    run_all([functools.partial(clear, netns, tag, log, runner=runner) for netns in netns_paths])
