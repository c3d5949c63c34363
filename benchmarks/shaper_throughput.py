"""TCP throughput through the userspace shaper against the unshaped path.

Two throwaway namespaces joined by a veth pair; iperf3 from one to the other, first
unshaped, then with the egress queue rule and the shaper adding 0, 10 and 100 ms.
Each run also pings (20 probes, idle and again while iperf3 runs) to show the delay
really added and how it holds under load. Prints Mbit/s and the
ratio to the unshaped path (goal: >= 500 Mbit/s at 0 ms added).

    sudo python3 benchmarks/shaper_throughput.py [--seconds 5] [--delays 0,10,100]

Needs root, iproute2, iptables, iperf3, ping.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from squall.faults.shaper import control
from squall.faults.shaper_config import (
    SHAPER_MARK,
    SHAPER_MARK_MASK,
    NamespaceQueues,
    QueueSpec,
    ShaperConfig,
)

A_IP, B_IP = "10.203.250.1", "10.203.250.2"


def run(*argv: str, timeout: float = 60) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=timeout).stdout


def setup(a: str, b: str) -> None:
    run("ip", "netns", "add", a)
    run("ip", "netns", "add", b)
    run("ip", "link", "add", "sqa0", "netns", a, "type", "veth", "peer", "name", "sqb0", "netns", b)
    for ns, dev, ip in ((a, "sqa0", A_IP), (b, "sqb0", B_IP)):
        run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
        run("ip", "-n", ns, "link", "set", dev, "up")
        run("ip", "-n", ns, "link", "set", "lo", "up")


def iperf(a: str, b: str, seconds: int) -> tuple[float, float]:
    """Mbit/s received by b from a, and a's mean ping RTT to b meanwhile (ms)."""
    server = subprocess.Popen(
        ["ip", "netns", "exec", b, "iperf3", "-s", "-1", "-p", "5299"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        client = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                a,
                "iperf3",
                "-c",
                B_IP,
                "-p",
                "5299",
                "-J",
                "-t",
                str(seconds),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(min(1.0, seconds / 4))
        loaded = ping_ms(a)
        out, _ = client.communicate(timeout=seconds + 30)
        bps = json.loads(out)["end"]["sum_received"]["bits_per_second"]
        return float(bps) / 1e6, loaded
    finally:
        server.wait(timeout=10)


def ping_ms(a: str) -> float:
    out = run("ip", "netns", "exec", a, "ping", "-n", "-q", "-c", "20", "-i", "0.05", B_IP)
    found = re.search(r"= [\d.]+/([\d.]+)/", out)
    return float(found.group(1)) if found else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--delays", default="0,10,100", help="added delays in ms")
    parser.add_argument(
        "--chain",
        default="POSTROUTING",
        choices=["POSTROUTING", "OUTPUT"],
        help="mangle chain of the egress queue rule",
    )
    args = parser.parse_args()
    delays = [float(d) for d in args.delays.split(",")]
    tag = secrets.token_hex(3)
    a, b = f"sqt-{tag}a", f"sqt-{tag}b"
    state = Path(tempfile.mkdtemp(prefix="squall-shaper-bench-"))
    rows: list[tuple[str, float, float, float]] = []
    try:
        setup(a, b)
        base_rtt = ping_ms(a)
        base, base_loaded = iperf(a, b, args.seconds)
        rows.append(("unshaped", base, base_rtt, base_loaded))
        run(
            "ip",
            "netns",
            "exec",
            a,
            "iptables",
            "-t",
            "mangle",
            "-A",
            args.chain,
            "-o",
            "sqa0",
            "-m",
            "mark",
            "!",
            "--mark",
            f"{SHAPER_MARK:#x}/{SHAPER_MARK_MASK:#x}",
            "-j",
            "NFQUEUE",
            "--queue-num",
            "1",
            "--queue-bypass",
        )
        for delay in delays:
            config = ShaperConfig(
                namespaces=(
                    NamespaceQueues(
                        f"/run/netns/{a}", "bench/a", (QueueSpec(num=1, delay=delay / 1000),)
                    ),
                )
            )
            control.ensure_shaper(state, config)
            rtt = ping_ms(a)
            mbit, loaded = iperf(a, b, args.seconds)
            rows.append((f"shaper +{delay:g} ms", mbit, rtt, loaded))
        status = control.shaper_status(state)
    finally:
        control.stop_shaper(state)
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    print(f"{'path':<16}{'Mbit/s':>8}{'ratio':>7}{'ping ms':>10}{'added':>9}{'loaded ping':>13}")
    for name, mbit, rtt, loaded in rows:
        print(
            f"{name:<16}{mbit:>8.0f}{mbit / base:>7.2f}{rtt:>10.3f}"
            f"{rtt - base_rtt:>9.3f}{loaded:>13.3f}"
        )
    print("ping: 20 probes idle; loaded ping: 20 probes while iperf3 runs (ms)")
    print(f"shaper counters: {status.counters}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
