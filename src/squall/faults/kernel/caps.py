"""What this kernel can do, probed once in a throwaway namespace.

Each capability is a row of `PROBES`: the command that works only where the kernel
(and its userland) has it, and what to run afterwards to undo it. One loop runs them;
the namespace goes at the end with everything in it.
"""

from __future__ import annotations

import json
import os
import platform
import uuid
from dataclasses import dataclass
from pathlib import Path

from squall.atomic import write_atomic
from squall.errors import FaultError, KernelCommandFailed
from squall.faults.plan import KernelCaps, mirred_redirect
from squall.linux.commands import Log, Runner

PROBE_IFB = "sqcaps0"


def _argv(text: str) -> tuple[str, ...]:
    """A fixed command of the table, written as one line (split on spaces, no shell)."""
    return tuple(text.split())


@dataclass(frozen=True)
class Probe:
    """The kernel has `cap` when `argv` succeeds. A row without `cap` prepares what
    later rows need; `needs` skips a row (and counts it absent) when an earlier
    capability is absent; `undo` runs afterwards whatever happened."""

    cap: str | None
    argv: tuple[str, ...]
    needs: str | None = None
    undo: tuple[str, ...] | None = None


_DEL_ROOT = _argv("tc qdisc del dev lo root")
PROBES: tuple[Probe, ...] = (
    Probe(None, _argv("ip link set lo up")),
    Probe("netem", _argv("tc qdisc add dev lo root netem delay 1ms"), undo=_DEL_ROOT),
    Probe("htb", _argv("tc qdisc add dev lo root handle 1: htb"), undo=_DEL_ROOT),
    Probe(
        "tbf",
        _argv("tc qdisc add dev lo root tbf rate 1mbit burst 10kb latency 50ms"),
        undo=_DEL_ROOT,
    ),
    Probe("ifb", _argv(f"ip link add {PROBE_IFB} type ifb")),
    Probe(None, _argv("tc qdisc add dev lo handle ffff: ingress")),
    Probe("mirred", mirred_redirect("lo", PROBE_IFB), needs="ifb"),
    Probe(
        "police",
        _argv(
            "tc filter add dev lo parent ffff: protocol ip prio 2 u32 match u32 0 0 "
            "police rate 1mbit burst 10k drop"
        ),
    ),
    Probe("nfqueue", _argv("iptables -w -A OUTPUT -j NFQUEUE --queue-num 1 --queue-bypass")),
    Probe(
        "statistic",
        _argv("iptables -w -A OUTPUT -m statistic --mode random --probability 0.5 -j ACCEPT"),
    ),
    Probe("conntrack", _argv("iptables -w -A OUTPUT -m conntrack --ctdir ORIGINAL -j ACCEPT")),
)


def run_probes(ns: Runner, probes: tuple[Probe, ...] = PROBES) -> dict[str, bool]:
    """Which capabilities `ns` shows, by name (commands that fail are answers, not errors)."""
    found: dict[str, bool] = {}
    for probe in probes:
        present = False
        if probe.needs is None or found.get(probe.needs, False):
            present = ns.run(probe.argv, check=False).returncode == 0
        if probe.undo is not None:
            ns.run(probe.undo, check=False)
        if probe.cap is not None:
            found[probe.cap] = present
    return found


def iptables_backend(ns: Runner) -> str | None:
    """`nft` or `legacy`: which iptables is on PATH; None when there is none."""
    version = ns.run(("iptables", "-V"), check=False)
    if version.returncode != 0:
        return None
    return "nft" if "nf_tables" in version.stdout else "legacy"


def detect_caps(log: Log | None = None) -> KernelCaps:
    """Probe this kernel in a throwaway namespace (needs root; leaves nothing behind).

    Raises:
        FaultError: the probe namespace cannot be created (not root, no `ip`).
    """
    name = f"sqcaps-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    host = Runner(log)
    try:
        host.run(("ip", "netns", "add", name))
    except KernelCommandFailed as exc:
        raise FaultError(f"cannot probe the kernel (needs root): {exc.stderr.strip()}") from exc
    ns = host.inside(f"/run/netns/{name}")
    try:
        found = run_probes(ns)
        backend = iptables_backend(ns)
    finally:
        host.run(("ip", "netns", "del", name), check=False)
    return KernelCaps(**found, iptables_backend=backend)


__all__ = ["PROBES", "Probe", "detect_caps", "run_probes"]


CAPS_FILE = "kernel-caps.json"
"""Where `kernel_caps` keeps its probe, keyed by boot and kernel release."""


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def kernel_caps(cache_dir: Path, log: Log | None = None, refresh: bool = False) -> KernelCaps:
    """Probe once per boot and kernel; the probe costs a namespace and a dozen processes."""
    key = f"{_boot_id()} {platform.release()}"
    path = cache_dir / CAPS_FILE
    if not refresh:
        try:
            cached = json.loads(path.read_text())
            if cached.get("key") == key:
                return KernelCaps(**cached["caps"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    caps = detect_caps(log)
    cache_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps({"key": key, "caps": caps.__dict__}))
    return caps
