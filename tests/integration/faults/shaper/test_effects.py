"""Loss, duplication, corruption and reordering, counted on the receiving side."""

from __future__ import annotations

import itertools
import math
import socket
import time
from statistics import NormalDist

from squall.faults.shaper_config import QueueSpec
from tests.integration.faults.shaper.nets import NetPair, Shaper, one

PORT = 7009


def binomial_99(n: int, p: float) -> tuple[float, float]:
    half = NormalDist().inv_cdf(0.995) * math.sqrt(n * p * (1 - p))
    return n * p - half, n * p + half


def blast_udp(
    pair: NetPair, count: int, *, gap: float = 0.0, size: int = 32, settle: float = 0.3
) -> list[int]:
    """Send `count` numbered datagrams a -> b; the sequence numbers b got, in order."""
    receiver = pair.socket_in(pair.b, socket.SOCK_DGRAM)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    receiver.bind((pair.ip_b, PORT))
    receiver.setblocking(False)
    sender = pair.socket_in(pair.a, socket.SOCK_DGRAM)
    got: list[int] = []

    def drain() -> None:
        while True:
            try:
                data = receiver.recv(2048)
            except BlockingIOError:
                return
            got.append(int.from_bytes(data[:4], "big"))

    try:
        for seq in range(count):
            sender.sendto(seq.to_bytes(4, "big") + bytes(size - 4), (pair.ip_b, PORT))
            if gap:
                time.sleep(gap)
            if seq % 64 == 0:
                drain()
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            drain()
            time.sleep(0.01)
        drain()
    finally:
        sender.close()
        receiver.close()
    return got


def test_loss_lands_in_the_binomial_interval(netpair: NetPair, shaper: Shaper) -> None:
    netpair.queue_egress(netpair.a, netpair.dev_a, 1, "-p", "udp")
    shaper.ensure(one(netpair.a, QueueSpec(num=1, loss=0.20)))
    sent = 2000
    got = blast_udp(netpair, sent, gap=0.0001)
    low, high = binomial_99(sent, 0.20)
    lost = sent - len(set(got))
    assert low <= lost <= high, (lost, low, high)
    assert shaper.status().pid is not None


def test_duplicates_show_in_ping(netpair: NetPair, shaper: Shaper) -> None:
    netpair.queue_egress(netpair.a, netpair.dev_a, 1)
    shaper.ensure(one(netpair.a, QueueSpec(num=1, duplicate=1.0)))
    ping = netpair.ping(count=5, interval=0.05)
    assert len(ping.rtts) == 5, ping.output
    # ping stops at its fifth reply, so the last duplicate may come after it left
    assert ping.duplicates >= 4, ping.output


def test_corruption_shows_as_bad_checksums(netpair: NetPair, shaper: Shaper) -> None:
    before = netpair.snmp(netpair.b, "Udp", "InCsumErrors")
    netpair.queue_egress(netpair.a, netpair.dev_a, 1, "-p", "udp")
    shaper.ensure(one(netpair.a, QueueSpec(num=1, corrupt=1.0)))
    got = blast_udp(netpair, 200, gap=0.0002, size=200)
    errors = netpair.snmp(netpair.b, "Udp", "InCsumErrors") - before
    # One flipped bit per datagram: the UDP checksum catches every one of them
    # (a flip in the length field may be counted as a short packet instead).
    assert errors >= 190, (errors, len(got))
    assert len(got) <= 10


def test_reorder_sends_a_share_at_once(netpair: NetPair, shaper: Shaper) -> None:
    netpair.queue_egress(netpair.a, netpair.dev_a, 1, "-p", "udp")
    shaper.ensure(one(netpair.a, QueueSpec(num=1, delay=0.030, reorder=0.25)))
    got = blast_udp(netpair, 200, gap=0.001, settle=0.2)
    assert sorted(got) == list(range(200))
    overtaken = sum(1 for prev, seq in itertools.pairwise(got) if seq < prev)
    assert overtaken > 20, got


def test_ingress_duplicate_is_injected_locally(netpair: NetPair, shaper: Shaper) -> None:
    netpair.queue_ingress(netpair.b, netpair.dev_b, 2, "-p", "icmp")
    shaper.ensure(one(netpair.b, QueueSpec(num=2, mode="ingress", duplicate=1.0), label="test/b"))
    ping = netpair.ping(count=5, interval=0.05)
    assert len(ping.rtts) == 5, ping.output
    assert ping.duplicates >= 4, ping.output


def test_ingress_loss_and_corruption(netpair: NetPair, shaper: Shaper) -> None:
    netpair.queue_ingress(netpair.b, netpair.dev_b, 2, "-p", "udp")
    shaper.ensure(one(netpair.b, QueueSpec(num=2, mode="ingress", loss=0.5), label="test/b"))
    got = blast_udp(netpair, 400, gap=0.0001)
    low, high = binomial_99(400, 0.5)
    assert low <= 400 - len(got) <= high, len(got)
    before = netpair.snmp(netpair.b, "Udp", "InCsumErrors")
    shaper.ensure(one(netpair.b, QueueSpec(num=2, mode="ingress", corrupt=1.0), label="test/b"))
    got = blast_udp(netpair, 100, gap=0.0002, size=200)
    assert netpair.snmp(netpair.b, "Udp", "InCsumErrors") - before >= 95
    assert len(got) <= 5
