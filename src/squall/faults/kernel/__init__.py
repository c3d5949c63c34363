"""Make network namespaces' kernels match `KernelPlan`s, read them back, clear them.

Every command is an argv list run from the host inside the namespace, never a shell.
`apply` writes (see its module for how few processes an apply takes), `readback`
reads what Squall left (`status`), `rtnetlink` reads interfaces and qdiscs in-process,
`caps` probes what the kernel can do; `squall.linux.commands` runs the commands.
"""

from squall.faults.kernel.apply import Applied, apply, apply_many, clear, clear_many
from squall.faults.kernel.caps import detect_caps, kernel_caps
from squall.faults.kernel.readback import (
    ActualFaults,
    Qdisc,
    TcClass,
    read_back,
    read_back_many,
)
from squall.faults.kernel.rtnetlink import Observed, list_interfaces, observe

__all__ = [
    "ActualFaults",
    "Applied",
    "Observed",
    "Qdisc",
    "TcClass",
    "apply",
    "apply_many",
    "clear",
    "clear_many",
    "detect_caps",
    "kernel_caps",
    "list_interfaces",
    "observe",
    "read_back",
    "read_back_many",
]
