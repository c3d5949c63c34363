"""Configured versus measured: delay, jitter, loss and rate, on both fault paths.

Two services of `squall/debian:bookworm`, `a` and `b`; `b` runs a TCP echo server
(port 7000) and a TCP sink (port 7001) written in Python. Each fault is set on `a`
towards `b` with the squall CLI, measured from inside `a` with `squall exec`, then
cleared with `squall fast a`:

- delay 50ms, 100ms: ping RTT (`ping -i 0.01`) and TCP echo RTT, minus the same
  measured without the fault;
- jitter 100ms +- 10ms (distribution normal, so 10 ms is the standard deviation):
  standard deviation of the ping RTTs;
- loss 20%, 5%: share of 1000 pings lost (`-i 0.01`), with the 99% binomial interval;
- rate 50kbps (= 400 kbit/s) and 10mbit: bytes the sink received over the time from
  their first to their last byte, from a fixed-size TCP send.

Prints a table: what, configured, measured, error. Every loop is bounded (fixed
counts, timeouts). Traffic flows only between the two services.

    python3 benchmarks/fault_accuracy.py                   # Docker on this host
    python3 benchmarks/fault_accuracy.py --backend netns   # netns backend, this host
    python3 benchmarks/fault_accuracy.py --vm              # both paths side by side

This host's kernel has no `sch_netem`, so here delay, jitter and reordering take the
userspace shaper and loss iptables `statistic`. `--vm` first runs the same rows with
`--backend netns` inside the VM lane's qemu guest (`tests/vm/machine.py`), whose
Debian kernel has netem, so there they take netem under htb; then it measures this
host, and prints each row for both paths. Under TCG the guest's own RTT is higher and
noisier: its unshaped row is the baseline each delay is measured against.

Needs root, the Docker Engine and the local image squall/debian:bookworm (`--vm`
also the lane's tools: qemu-system-x86, mmdebstrap, e2fsprogs).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the VM lane's guest machine

from tests.vm import machine

IMAGE = "squall/debian:bookworm"

SERVERS = """
import socket, threading, time

def echo(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)

def sink(conn):
    with conn:
        got, first = 0, None
        while data := conn.recv(65536):
            if first is None:
                first = time.monotonic()
            got += len(data)
        last = time.monotonic()
        conn.sendall(f"{got} {last - (first or last)}".encode())

def serve(port, handler):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(16)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()

threading.Thread(target=serve, args=(7000, echo), daemon=True).start()
serve(7001, sink)
"""

TCP_RTT = """
import socket, statistics, sys, time
s = socket.create_connection((sys.argv[1], 7000), timeout=5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
rtts = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter(); s.sendall(b"x"); s.recv(1); rtts.append(time.perf_counter() - t)
print(statistics.median(rtts) * 1000)
"""

TCP_SEND = """
import socket, sys
s = socket.create_connection((sys.argv[1], 7001), timeout=60)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
left = int(sys.argv[2])
chunk = b"x" * 16384
while left > 0:
    s.sendall(chunk[:left]); left -= len(chunk)
s.shutdown(socket.SHUT_WR)
answer = b""
while data := s.recv(1024):
    answer += data
got, seconds = answer.split()
print(int(got) * 8 / float(seconds) / 1000)
"""


def compose(directory: Path) -> Path:
    idle = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    text = (
        "services:\n"
        f"  a:\n    image: {IMAGE}\n    command: {json.dumps(idle)}\n"
        f"  b:\n    image: {IMAGE}\n    command: {json.dumps(['python3', '-c', SERVERS])}\n"
    )
    path = directory / "compose.yaml"
    path.write_text(text)
    return path


@dataclass
class Cluster:
    file: Path
    project: str
    backend: str = "docker"

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "squall", "-f", str(self.file), "-p", self.project,
                "--backend", self.backend, *args]  # fmt: skip

    def squall(self, *args: str, timeout: float = 240) -> str:
        argv = self.argv(*args)
        proc = subprocess.run(
            argv,
            cwd=self.file.parent,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"squall {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def in_a(self, *argv: str, timeout: float = 120) -> str:
        return self.squall("exec", "a", "--", *argv, timeout=timeout)


@dataclass(frozen=True)
class Ping:
    sent: int
    received: int
    rtts: tuple[float, ...]

    @property
    def loss(self) -> float:
        return 1 - self.received / self.sent


def ping(cluster: Cluster, count: int, wait: float = 1.0) -> Ping:
    out = cluster.in_a(
        "ping", "-n", "-i", "0.01", "-W", f"{wait:g}", "-c", str(count), "b",
        timeout=count * 0.01 + 60,
    )  # fmt: skip
    rtts = tuple(float(m) for m in re.findall(r"time=([\d.]+) ms", out))
    summary = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    if summary is None:
        raise RuntimeError(f"unexpected ping output: {out[-300:]}")
    return Ping(int(summary[1]), int(summary[2]), rtts)


def tcp_rtt(cluster: Cluster, count: int = 100) -> float:
    return float(cluster.in_a("python3", "-c", TCP_RTT, "b", str(count)))


def throughput_kbit(cluster: Cluster, size: int) -> float:
    return float(cluster.in_a("python3", "-c", TCP_SEND, "b", str(size), timeout=120))


def binomial_interval(n: int, p: float, z: float = 2.576) -> tuple[float, float]:
    """Normal approximation of the 99% interval of the share lost."""
    half = z * math.sqrt(p * (1 - p) / n)
    return p - half, p + half


@dataclass(frozen=True)
class Row:
    what: str
    configured: str
    measured: str
    error: str


def print_rows(rows: Sequence[Row]) -> None:
    print(f"{'what':<26} | {'configured':<22} | {'measured':<30} | error")
    print(f"{'-' * 26} | {'-' * 22} | {'-' * 30} | {'-' * 20}")
    for r in rows:
        print(f"{r.what:<26} | {r.configured:<22} | {r.measured:<30} | {r.error}")


def print_side_by_side(netem: Sequence[Row], shaper: Sequence[Row]) -> None:
    """One line per row: the netem path (guest) and the userspace shaper (host)."""
    print(f"{'what':<26} | {'configured':<22} | {'netem path (qemu guest)':<50} "
          f"| userspace shaper (this host)")  # fmt: skip
    print(f"{'-' * 26} | {'-' * 22} | {'-' * 50} | {'-' * 50}")
    for guest, host in zip(netem, shaper, strict=True):
        print(
            f"{guest.what:<26} | {guest.configured:<22} "
            f"| {f'{guest.measured} ({guest.error})':<50} | {host.measured} ({host.error})"
        )


def measure(cluster: Cluster) -> list[Row]:
    rows: list[Row] = []
    base_ping = ping(cluster, 200)
    base_icmp = statistics.median(base_ping.rtts)
    base_tcp = tcp_rtt(cluster)
    rows.append(Row("unshaped RTT", "-", f"ping {base_icmp:.3f} ms, TCP {base_tcp:.3f} ms", "-"))
    for delay in (50, 100):
        cluster.squall("shape", "a", "--to", "b", "--delay", f"{delay}ms")
        try:
            icmp = statistics.median(ping(cluster, 200).rtts) - base_icmp
            tcp = tcp_rtt(cluster, 50) - base_tcp
        finally:
            cluster.squall("fast", "a")
        rows.append(
            Row("delay (ping -i 0.01)", f"{delay} ms", f"{icmp:.2f} ms added",
                f"{icmp - delay:+.2f} ms")
        )  # fmt: skip
        rows.append(
            Row("delay (TCP echo)", f"{delay} ms", f"{tcp:.2f} ms added", f"{tcp - delay:+.2f} ms")
        )
    cluster.squall(
        "shape", "a", "--to", "b", "--delay", "100ms", "--jitter", "10ms",
        "--distribution", "normal",
    )  # fmt: skip
    try:
        rtts = ping(cluster, 500).rtts
    finally:
        cluster.squall("fast", "a")
    mean = statistics.fmean(rtts) - base_icmp
    stdev = statistics.stdev(rtts)
    rows.append(
        Row(
            "jitter (ping, n=500)",
            "100 ms +- 10 ms normal",
            f"mean {mean:.2f} ms added, sd {stdev:.2f} ms",
            f"sd {stdev - 10:+.2f} ms, mean {mean - 100:+.2f} ms",
        )
    )
    for loss in (20, 5):
        cluster.squall("shape", "a", "--to", "b", "--loss", f"{loss}%")
        try:
            result = ping(cluster, 1000, wait=0.5)
        finally:
            cluster.squall("fast", "a")
        low, high = binomial_interval(result.sent, loss / 100)
        inside = "inside" if low <= result.loss <= high else "OUTSIDE"
        rows.append(
            Row(
                f"loss (ping, n={result.sent})",
                f"{loss}%",
                f"{result.loss * 100:.1f}% lost",
                f"{(result.loss * 100 - loss):+.1f} pts, {inside} 99%"
                f" [{low * 100:.1f}, {high * 100:.1f}]",
            )
        )
    for rate, kbit, size in (("50kbps", 400.0, 200_000), ("10mbit", 10_000.0, 6_000_000)):
        cluster.squall("shape", "a", "--to", "b", "--rate", rate)
        try:
            got = throughput_kbit(cluster, size)
        finally:
            cluster.squall("fast", "a")
        label = f"{rate} ({kbit:g} kbit/s)"
        rows.append(
            Row(
                f"rate (TCP, {size // 1000} kB)",
                label,
                f"{got:.1f} kbit/s",
                f"{(got / kbit - 1) * 100:+.1f}%",
            )
        )
    return rows


def run_cluster(backend: str) -> list[Row]:
    """Up a two-service cluster on `backend`, measure every row, down it."""
    with tempfile.TemporaryDirectory(prefix="squall-bench-accuracy-") as tmp:
        os.environ["SQUALL_STATE_DIR"] = str(Path(tmp) / "state")
        cluster = Cluster(compose(Path(tmp)), f"benchacc{os.getpid()}", backend)
        try:
            cluster.squall("up")
            return measure(cluster)
        finally:
            subprocess.run(
                cluster.argv("down"), cwd=cluster.file.parent, capture_output=True, check=False
            )


def in_guest() -> list[Row]:
    """The same rows on the netns backend inside a qemu guest whose kernel has netem."""
    run_sh = "python3 benchmarks/fault_accuracy.py --backend netns --json /lane/out/rows.json\n"
    with tempfile.TemporaryDirectory(prefix="squall-bench-vm-") as tmp:
        outcome = machine.boot(machine.root_image(), run_sh, Path(tmp), timeout=1800)
        if outcome.rc != 0:
            sys.exit(f"the guest's run failed (exit {outcome.rc}):\n{outcome.log[-3000:]}")
        raw = json.loads((outcome.out / "rows.json").read_text())
    print(f"guest run: {outcome.seconds:.0f} s (boot, measure, power off)", flush=True)
    return [Row(**r) for r in raw]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("docker", "netns"), default="docker")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument(
        "--vm", action="store_true", help="netem path in a qemu guest beside this host's path"
    )
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("needs root (faults are set inside the services' network namespaces)")
    if args.vm:
        netem = in_guest()
        print_side_by_side(netem, run_cluster(args.backend))
        return
    rows = run_cluster(args.backend)
    print_rows(rows)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))


if __name__ == "__main__":
    main()
