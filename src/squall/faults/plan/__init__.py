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

from squall.faults.plan.build import plan
from squall.faults.plan.iptables import needs_queue
from squall.faults.plan.model import (
    DROP_HOOKS,
    IFB_PREFIX,
    QUEUE_BASE,
    QUEUE_HOOKS,
    TC_HANDLE,
    TC_MAJOR,
    Chain,
    Interface,
    KernelCaps,
    KernelPlan,
    Rule,
    Table,
    chain_name,
    comment_for,
    describe_queue,
    ifb_name,
)
from squall.faults.plan.tc import mirred_redirect, netem_args, port_masks

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
    "Table",
    "chain_name",
    "comment_for",
    "describe_queue",
    "ifb_name",
    "mirred_redirect",
    "needs_queue",
    "netem_args",
    "plan",
    "port_masks",
]
