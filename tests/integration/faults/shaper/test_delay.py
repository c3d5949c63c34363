"""Delay and jitter, measured by traffic between two real namespaces."""

from __future__ import annotations

import socket
import statistics
import threading
import time

from squall.faults.shaper_config import QueueSpec
from tests.integration.faults.shaper.nets import NetPair, Shaper, one


def test_egress_delay_seen_by_ping(netpair: NetPair, shaper: Shaper) -> None:
    base = netpair.ping(count=5, interval=0.02).mean
    netpair.queue_egress(netpair.a, netpair.dev_a, 1)
    shaper.ensure(one(netpair.a, QueueSpec(num=1, delay=0.100)))
    ping = netpair.ping(count=20, interval=0.05)
    assert len(ping.rtts) == 20, ping.output
    assert abs(ping.mean - base - 100.0) < 2.0, ping.output
    # Per reply ping prints whole milliseconds above 100 ms; allow one late wake-up
    # (other processes share these cores), not a habit.
    assert sum(100.0 <= rtt <= 102.0 for rtt in ping.rtts) >= 19, ping.output


def test_egress_delay_seen_by_tcp_round_trips(netpair: NetPair, shaper: Shaper) -> None:
    server = netpair.socket_in(netpair.b, socket.SOCK_STREAM, (netpair.ip_b, 7007))
    server.listen(1)

    def echo() -> None:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(64):
                conn.sendall(data)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    netpair.queue_egress(netpair.a, netpair.dev_a, 1, "-p", "tcp")
    shaper.ensure(one(netpair.a, QueueSpec(num=1, delay=0.100)))
    client = netpair.socket_in(netpair.a, socket.SOCK_STREAM)
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.settimeout(5)
    try:
        client.connect((netpair.ip_b, 7007))
        rtts = []
        for i in range(5):
            started = time.monotonic()
            client.sendall(bytes([i]))
            assert client.recv(64) == bytes([i])
            rtts.append((time.monotonic() - started) * 1000)
    finally:
        client.close()
        server.close()
    # Only a's packets are delayed, so one round trip carries the delay once.
    assert all(rtt > 99.5 for rtt in rtts), rtts
    assert 99.5 < statistics.median(rtts) < 102.0, rtts


def test_ingress_delay_holds_the_verdict(netpair: NetPair, shaper: Shaper) -> None:
    # b delays what arrives from a: a's ping sees it (the requests come in late).
    netpair.queue_ingress(netpair.b, netpair.dev_b, 2)
    shaper.ensure(one(netpair.b, QueueSpec(num=2, mode="ingress", delay=0.100), label="test/b"))
    ping = netpair.ping(count=20, interval=0.05)
    assert len(ping.rtts) == 20, ping.output
    assert 100.0 <= ping.mean < 102.0, ping.output
    assert sum(100.0 <= rtt <= 102.0 for rtt in ping.rtts) >= 19, ping.output


def test_jitter_widens_the_spread(netpair: NetPair, shaper: Shaper) -> None:
    netpair.queue_egress(netpair.a, netpair.dev_a, 1)
    shaper.ensure(one(netpair.a, QueueSpec(num=1, delay=0.050)))
    steady = netpair.ping(count=30, interval=0.02)
    shaper.ensure(
        one(netpair.a, QueueSpec(num=1, delay=0.050, jitter=0.010, distribution="normal"))
    )
    jittery = netpair.ping(count=60, interval=0.02)
    assert len(jittery.rtts) == 60, jittery.output
    assert statistics.pstdev(steady.rtts) < 1.0, steady.output
    # normal with sigma 10 ms: the sample deviation of 60 draws is well above 6 ms
    assert 6.0 < statistics.pstdev(jittery.rtts) < 14.0, jittery.output
    assert abs(statistics.mean(jittery.rtts) - 50.0) < 5.0, jittery.output
