"""What this kernel can do, probed once in a throwaway namespace."""

from __future__ import annotations

import os
import uuid

from squall.errors import FaultError, KernelCommandFailed
from squall.faults.kernel.runner import Log, _Namespace
from squall.faults.plan import KernelCaps, mirred_redirect


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
