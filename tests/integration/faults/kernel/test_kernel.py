"""Faults on the real kernel, proven by traffic between throwaway namespaces."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time

import pytest

from squall.faults.kernel import apply, apply_many, clear_many, detect_caps, read_back
from squall.faults.model import NamespaceFaults, Selector, Shape, parse_ports
from squall.faults.partition import blockade_partition, blocks, one_way
from squall.faults.plan import Interface, KernelCaps, KernelPlan, plan
from squall.units import parse_duration, parse_percent, parse_rate
from tests.integration.faults.conftest import HOSTS, Lab

TAG = "sqt"


@pytest.fixture(scope="module")
def caps() -> KernelCaps:
    return detect_caps()


def interfaces(lab: Lab, host: str) -> list[Interface]:
    return [Interface("sqt0", (f"{lab.ip(host)}/24",))]


def faults(lab: Lab, host: str, *shapes: Shape, **kw: object) -> NamespaceFaults:
    return NamespaceFaults(tag=TAG, netns=lab.path(host), label=f"lab/{host}", shapes=shapes, **kw)  # type: ignore[arg-type]


def apply_partition(lab: Lab, caps: KernelCaps, partition: object) -> dict[str, KernelPlan]:
    addresses = {h: [lab.ip(h)] for h in HOSTS}
    per_host = blocks(partition, addresses)  # type: ignore[arg-type]
    plans = {h: plan(faults(lab, h, blocks=per_host[h]), interfaces(lab, h), caps) for h in HOSTS}
    apply_many([(lab.path(h), p) for h, p in plans.items()])
    return plans


def squall_state(lab: Lab, host: str) -> tuple[str, str, str]:
    saved = lab.run(host, "iptables-save").stdout
    rules = "\n".join(line for line in saved.splitlines() if not line.startswith("#"))
    qdiscs = lab.run(host, "tc", "qdisc", "show").stdout
    links = lab.run(host, "ip", "-o", "link", "show").stdout
    return rules, qdiscs, links


def test_detect_caps_matches_this_kernel(caps: KernelCaps) -> None:
    assert caps.htb and caps.tbf and caps.nfqueue and caps.statistic and caps.conntrack
    assert caps.iptables_backend in ("nft", "legacy")
    listed = subprocess.run(("ip", "netns", "list"), capture_output=True, text=True).stdout
    assert "sqcaps-" not in listed, "detect_caps leaves no namespace behind"


def test_partition_blocks_across_groups_both_ways_and_heals(clean: Lab, caps: KernelCaps) -> None:
    lab = clean
    plans = apply_partition(lab, caps, blockade_partition([["a"]], list(HOSTS)))
    for x, y in (("a", "b"), ("b", "a"), ("a", "c"), ("c", "a")):
        assert not lab.tcp_ok(x, y), f"{x} -> {y} should be cut"
    assert not lab.ping_ok("a", "b") and not lab.ping_ok("c", "a")
    assert lab.tcp_ok("b", "c") and lab.tcp_ok("c", "b") and lab.ping_ok("b", "c")
    for h in HOSTS:
        assert read_back(lab.path(h), TAG).drift(plans[h]) == []
    clear_many([lab.path(h) for h in HOSTS], TAG)
    assert lab.tcp_ok("a", "b") and lab.ping_ok("b", "a")


def test_one_way_blocks_exactly_one_direction_and_replies_pass(
    clean: Lab, caps: KernelCaps
) -> None:
    lab = clean
    apply_partition(lab, caps, one_way([("a", "b")], list(HOSTS)))
    assert not lab.tcp_ok("a", "b")
    assert not lab.ping_ok("a", "b")
    assert lab.tcp_ok("b", "a"), "b opens to a; a's replies must pass"
    assert lab.ping_ok("b", "a")
    assert lab.tcp_ok("a", "c") and lab.tcp_ok("c", "b")


UDP_RECEIVER = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE: never drop for lack of room
s.bind(("0.0.0.0", int(sys.argv[1]))); s.settimeout(5)
print("ready", flush=True)
n = 0
try:
    s.recv(64); n = 1; s.settimeout(0.5)
    while True:
        s.recv(64); n += 1
except socket.timeout:
    pass
print(n, flush=True)
"""
UDP_SENDER = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[3])):
    try:
        s.sendto(b"x" * 32, (sys.argv[1], int(sys.argv[2])))
    except PermissionError:  # dropped in OUTPUT: the kernel tells the sender
        pass
    if i % 100 == 99:
        time.sleep(0.002)
"""


def udp_delivered(lab: Lab, src: str, dst: str, count: int, port: int) -> int:
    receiver = lab.popen(dst, sys.executable, "-c", UDP_RECEIVER, str(port))
    assert receiver.stdout is not None
    assert receiver.stdout.readline().strip() == "ready"
    sent = lab.run(src, sys.executable, "-c", UDP_SENDER, lab.ip(dst), str(port), str(count))
    assert sent.returncode == 0, sent.stderr
    out, _ = receiver.communicate(timeout=15)
    return int(out.strip())


def binomial_interval(n: int, p: float, z: float = 2.576) -> tuple[float, float]:
    """99% interval of the number of successes (normal approximation, n*p*q >> 10)."""
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    return mean - z * sd, mean + z * sd


def test_loss_20_percent_to_one_peer_leaves_the_other_untouched(
    clean: Lab, caps: KernelCaps
) -> None:
    lab = clean
    shape = Shape(loss=parse_percent("20%"), selector=Selector(peers=(lab.ip("b"),)))
    p = plan(faults(lab, "a", shape), interfaces(lab, "a"), caps)
    apply(lab.path("a"), p)
    n = 2000
    got = udp_delivered(lab, "a", "b", n, 9100)
    low, high = binomial_interval(n, 0.8)
    assert low <= got <= high, f"{got} of {n} delivered, expected {low:.0f}..{high:.0f}"
    assert udp_delivered(lab, "a", "c", n, 9101) == n
    assert read_back(lab.path("a"), TAG).drift(p) == []


GOODPUT = 1448 / 1514
"""tc limits whole frames; iperf3 counts TCP payload (MSS 1448 in a 1514-byte frame)."""


def iperf_bits(lab: Lab, src: str, dst: str, seconds: int, reverse: bool = False) -> float:
    server = lab.popen(dst, "iperf3", "-s", "-1", "-p", "5299")
    try:
        for _ in range(50):
            if lab.run(dst, "ss", "-ltn", "sport = :5299").stdout.count("LISTEN"):
                break
            time.sleep(0.05)
        argv = ["iperf3", "-c", lab.ip(dst), "-p", "5299", "-t", str(seconds), "-J"]
        argv += ["-w", "32K"]  # a small buffer drains fast once the test ends
        if reverse:
            argv.append("-R")
        out = lab.run(src, *argv, timeout=seconds + 20)
        assert out.returncode == 0, out.stdout[-500:] + out.stderr
        return float(json.loads(out.stdout)["end"]["sum_received"]["bits_per_second"])
    finally:
        server.kill()
        server.wait()


@pytest.mark.skipif(shutil.which("iperf3") is None, reason="iperf3 is not installed")
@pytest.mark.parametrize(("rate", "seconds"), [("50kbps", 5), ("10mbit", 3)])
def test_rate_is_measured_within_ten_percent(
    clean: Lab, caps: KernelCaps, rate: str, seconds: int
) -> None:
    lab = clean
    limit = parse_rate(rate)
    shape = Shape(rate=limit, selector=Selector(peers=(lab.ip("b"),)))
    apply(lab.path("a"), plan(faults(lab, "a", shape), interfaces(lab, "a"), caps))
    measured = iperf_bits(lab, "a", "b", seconds)
    expected = limit.bits_per_second * GOODPUT
    print(f"rate {rate}: {measured / 1e3:.1f} kbit/s of TCP payload, expected {expected / 1e3:.1f}")
    assert abs(measured - expected) <= 0.10 * expected


@pytest.mark.skipif(shutil.which("iperf3") is None, reason="iperf3 is not installed")
def test_ingress_rate_through_ifb(clean: Lab, caps: KernelCaps) -> None:
    if not (caps.ifb and caps.mirred):
        pytest.skip("no ifb/mirred here")
    lab = clean
    shape = Shape(rate=parse_rate("10mbit"), selector=Selector(direction="ingress"))
    p = plan(faults(lab, "b", shape), interfaces(lab, "b"), caps)
    apply(lab.path("b"), p)
    measured = iperf_bits(lab, "a", "b", 3)
    assert abs(measured - 10e6 * GOODPUT) <= 1e6 * GOODPUT
    assert read_back(lab.path("b"), TAG).drift(p) == []


def test_delay_is_routed_to_nfqueue_and_bypassed_without_a_shaper(
    clean: Lab, caps: KernelCaps
) -> None:
    if caps.netem:
        pytest.skip("netem present: delay uses netem here")
    lab = clean
    shape = Shape(
        delay=parse_duration("100ms"),
        selector=Selector(peers=(lab.ip("b"),), ports=parse_ports("7000"), proto="tcp"),
    )
    p = plan(faults(lab, "a", shape), interfaces(lab, "a"), caps)
    assert p.queues is not None and p.queues.queues[0].delay == pytest.approx(0.1)
    apply(lab.path("a"), p)
    saved = lab.run("a", "iptables-save").stdout
    assert "-j NFQUEUE --queue-num 5351 --queue-bypass" in saved
    assert lab.tcp_ok("a", "b"), "--queue-bypass: no shaper listening means no black hole"


def test_apply_twice_is_idempotent_and_clear_leaves_nothing(clean: Lab, caps: KernelCaps) -> None:
    lab = clean
    before = squall_state(lab, "a")
    shapes = (
        Shape(
            loss=parse_percent("10%"),
            delay=parse_duration("5ms"),
            selector=Selector(peers=(lab.ip("b"),)),
        ),
        Shape(rate=parse_rate("20mbit"), selector=Selector(direction="both")),
    )
    addresses = {h: [lab.ip(h)] for h in HOSTS}
    cut = blocks(blockade_partition([["a"], ["b"]], list(HOSTS)), addresses)["a"]
    p = plan(faults(lab, "a", *shapes, blocks=cut), interfaces(lab, "a"), caps)
    apply(lab.path("a"), p)
    first = squall_state(lab, "a")
    apply(lab.path("a"), p)
    second = squall_state(lab, "a")
    assert first[0] == second[0]
    assert first[0].count("-j SQUALL-sqt-OUT") == 1 and first[0].count("-j SQUALL-sqt-IN") == 1
    assert first[1] == second[1]
    actual = read_back(lab.path("a"), TAG)
    assert actual.drift(p) == []
    # a smaller plan replaces the bigger one: stale chains, classes and ifbs go
    smaller = plan(faults(lab, "a", shapes[0]), interfaces(lab, "a"), caps)
    apply(lab.path("a"), smaller)
    assert read_back(lab.path("a"), TAG).drift(smaller) == []
    clear_many([lab.path("a")], TAG)
    assert squall_state(lab, "a") == before
    assert read_back(lab.path("a"), TAG).is_empty
    assert "squall" not in squall_state(lab, "a")[0].lower()
