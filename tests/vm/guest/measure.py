"""Traffic between lane services, measured where it lands (in-process, no subprocess
per packet: under TCG every program start costs seconds).

Sockets are opened inside a service's namespace with `entered` (they stay there);
UDP datagrams carry a sequence number so loss bursts, duplicates and order are seen.
"""

from __future__ import annotations

import math
import select
import socket
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from squall.linux.netns import entered
from tests.vm.guest.servers import ECHO_PORT, SINK_PORT


@contextmanager
def socket_in(netns: str, kind: int) -> Iterator[socket.socket]:
    with entered(netns):
        sock = socket.socket(socket.AF_INET, kind)
    try:
        yield sock
    finally:
        sock.close()


@dataclass(frozen=True)
class Arrivals:
    """UDP datagrams sent and the sequence numbers received, in arrival order."""

    sent: int
    seqs: tuple[int, ...]

    @property
    def delivered(self) -> float:
        return len(self.seqs) / self.sent

    @property
    def lost(self) -> float:
        return 1 - len(set(self.seqs)) / self.sent

    @property
    def duplicated(self) -> float:
        return (len(self.seqs) - len(set(self.seqs))) / self.sent

    @property
    def late(self) -> float:
        """Share of arrivals that came after a higher sequence number (reordered)."""
        top, late = -1, 0
        for seq in self.seqs:
            if seq < top:
                late += 1
            top = max(top, seq)
        return late / max(1, len(self.seqs))

    def loss_bursts(self) -> float:
        """Mean length of runs of consecutive lost sequence numbers."""
        got = set(self.seqs)
        runs, run = [], 0
        for seq in range(self.sent):
            if seq in got:
                if run:
                    runs.append(run)
                run = 0
            else:
                run += 1
        if run:
            runs.append(run)
        return statistics.fmean(runs) if runs else 0.0


def udp(
    src: str, dst: str, dst_ip: str, *, count: int, gap: float = 0.0005, wait: float = 1.0
) -> Arrivals:
    """Send `count` numbered datagrams `gap` seconds apart from `src` to `dst`."""
    with socket_in(dst, socket.SOCK_DGRAM) as rx, socket_in(src, socket.SOCK_DGRAM) as tx:
        rx.bind(("0.0.0.0", 0))
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        port = rx.getsockname()[1]
        seqs: list[int] = []
        for seq in range(count):
            tx.sendto(b"sq" + seq.to_bytes(4, "big") + b"." * 64, (dst_ip, port))
            seqs.extend(_drain(rx, 0.0))
            time.sleep(gap)
        seqs.extend(_drain(rx, wait))
    return Arrivals(count, tuple(seqs))


def _drain(sock: socket.socket, wait: float) -> list[int]:
    got: list[int] = []
    deadline = time.monotonic() + wait
    while True:
        ready, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return got
        data = sock.recv(2048)
        if data.startswith(b"sq") and len(data) == 70:
            got.append(int.from_bytes(data[2:6], "big"))
        if wait:
            deadline = time.monotonic() + wait


def ping(netns: str, ip: str, *, count: int, interval: float = 0.02) -> list[float]:
    """RTTs in ms of iputils ping from inside `netns` (lost ones are absent)."""
    out = subprocess.run(
        ("nsenter", f"--net={netns}", "--", "ping", "-n", "-c", str(count),
         "-i", str(interval), "-W", "2", ip),
        capture_output=True, text=True, timeout=count * (interval + 0.5) + 30, check=False,
    ).stdout  # fmt: skip
    return [float(t) for t in _times(out)]


def _times(out: str) -> list[str]:
    return [word[5:] for word in out.split() if word.startswith("time=")]


def tcp_rtt_ms(netns: str, ip: str, *, count: int = 50) -> float:
    """Median round trip of one byte through the echo server, TCP_NODELAY."""
    with entered(netns):
        sock = socket.socket()
    with sock:
        sock.settimeout(10)
        sock.connect((ip, ECHO_PORT))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rtts = []
        for _ in range(count):
            start = time.perf_counter()
            sock.sendall(b"x")
            sock.recv(1)
            rtts.append((time.perf_counter() - start) * 1000)
    return statistics.median(rtts)


def tcp_kbit(netns: str, ip: str, size: int) -> float:
    """Throughput in kbit/s that the sink measured for `size` bytes sent to it."""
    with entered(netns):
        sock = socket.socket()
    with sock:
        sock.settimeout(120)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
        sock.connect((ip, SINK_PORT))
        chunk = b"x" * 16384
        left = size
        while left > 0:
            sock.sendall(chunk[:left])
            left -= len(chunk)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while data := sock.recv(1024):
            answer += data
    got, seconds = answer.split()
    return int(got) * 8 / float(seconds) / 1000


def binomial_interval(n: int, p: float, z: float = 2.576) -> tuple[float, float]:
    """Normal approximation of the 99% interval of a share over `n` trials."""
    half = z * math.sqrt(p * (1 - p) / n)
    return p - half, p + half


def qdiscs(netns: str) -> str:
    """`tc qdisc show` inside `netns`, every device."""
    return subprocess.run(
        ("nsenter", f"--net={netns}", "--", "tc", "qdisc", "show"),
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
