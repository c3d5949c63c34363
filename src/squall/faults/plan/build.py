"""`plan()`: one namespace's desired faults -> a `KernelPlan`, from its iptables half
(`iptables`) and its tc half (`tc`)."""

from __future__ import annotations

from collections.abc import Sequence

from squall.faults.model import NamespaceFaults
from squall.faults.plan.iptables import IptablesPlan
from squall.faults.plan.model import Interface, KernelCaps, KernelPlan
from squall.faults.plan.tc import plan_tc
from squall.faults.shaper_config import NamespaceQueues


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
    iptables = IptablesPlan(faults, tuple(interfaces), caps)
    chains, rules = iptables.build()
    tc = plan_tc(faults, interfaces, caps)
    queues = None
    notes: list[str] = []
    if iptables.queues:
        queues = NamespaceQueues(
            netns=faults.netns, label=faults.label, queues=tuple(iptables.queues)
        )
        notes.append(
            f"delay/duplicate/corrupt go through the userspace shaper "
            f"({len(iptables.queues)} queue(s)); without it packets pass unshaped"
        )
    return KernelPlan(
        tag=faults.tag,
        label=faults.label,
        chains=chains,
        rules=rules,
        links=tc.links,
        tc=tc.tc,
        root_devices=tc.roots,
        ingress_devices=tc.ingress,
        ifbs=tc.ifbs,
        queues=queues,
        notes=tuple(notes),
    )


__all__ = ["plan"]
