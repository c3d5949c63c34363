"""Faults through the `squall` command on a real Docker cluster, proven by traffic.

One cluster for the module (a, b, c; h holy; n neutral), every test heals what it
did. Traffic only flows between the cluster's own containers.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import statistics
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from squall.faults.model import make_tag
from tests.integration.cli_runner import SquallRunner

COMPOSE = """\
x-squall:
  holy: [h]
  neutral: [n]
  presets:
    slow: 40ms
    flaky: 100%
x-node: &node
  image: squall/debian:bookworm
  init: true
  command: ["ncat", "-l", "-k", "7000", "--exec", "/bin/cat"]
services:
  a: *node
  b: *node
  c: *node
  h: *node
  n: *node
"""

TCP_RTT = """
import socket, statistics, sys, time
host, count = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, 7000), timeout=5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
rtts = []
for i in range(count):
    t = time.perf_counter(); s.sendall(b"x"); s.recv(1); rtts.append(time.perf_counter() - t)
print(statistics.median(rtts) * 1000)
"""

TCP_CONNECTS = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], 7000), timeout=float(sys.argv[2])).close()
    print("open")
except OSError as exc:
    print("closed", type(exc).__name__)
"""

SINK = """
import socket, sys, time
seconds = float(sys.argv[1])
server = socket.create_server(("0.0.0.0", 7001))
print("listening", flush=True)
conn, _ = server.accept()
start = time.monotonic()
got, mark = 0, None
conn.settimeout(1.0)
while time.monotonic() - start < seconds + 1.0:
    try:
        data = conn.recv(65536)
    except socket.timeout:
        continue
    if not data:
        break
    now = time.monotonic()
    if mark is None and now - start >= 1.0:
        mark, got = now, 0
    elif mark is not None:
        got += len(data)
print(got * 8 / 1000 / (time.monotonic() - mark))
"""

SOURCE = """
import socket, sys, time
host, seconds = sys.argv[1], float(sys.argv[2])
deadline = time.monotonic() + 10
while True:
    try:
        s = socket.create_connection((host, 7001), timeout=10)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.1)
chunk, stop = b"x" * 16384, time.monotonic() + seconds + 1.5
s.settimeout(1.0)
while time.monotonic() < stop:
    try:
        s.sendall(chunk)
    except socket.timeout:
        continue
    except OSError:
        break
"""

UDP_SEND = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[2])):
    try:
        s.sendto(b"squall-corrupt-probe" * 10, (sys.argv[1], 9999))
    except OSError:
        pass
"""


@dataclass
class Ping:
    sent: int
    received: int
    duplicates: int
    rtts: list[float]

    @property
    def loss(self) -> float:
        return 1 - self.received / self.sent


@pytest.fixture(scope="module")
def cluster(
    local_images: tuple[str, ...], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SquallRunner]:
    directory = tmp_path_factory.mktemp("faults")
    (directory / "compose.yaml").write_text(COMPOSE)
    runner = SquallRunner(
        directory / "compose.yaml",
        f"sqtf{secrets.token_hex(3)}",
        {"SQUALL_STATE_DIR": str(directory / "state")},
    )
    runner("up")
    yield runner
    runner("down", check=False)


@pytest.fixture
def squall(cluster: SquallRunner) -> Iterator[SquallRunner]:
    yield cluster
    cluster("join")
    cluster("fast", "--all")


def ping(squall: SquallRunner, src: str, dst: str, count: int = 10, interval: float = 0.05) -> Ping:
    out = squall(
        "exec",
        "-T",
        src,
        "--",
        "ping",
        "-n",
        "-c",
        str(count),
        "-i",
        str(interval),
        "-W",
        "1",
        dst,
        check=False,
    ).stdout
    summary = re.search(r"(\d+) packets transmitted, (\d+) received(?:, \+(\d+) duplicates)?", out)
    assert summary, out
    rtts = [float(m) for m in re.findall(r"time=([\d.]+) ms", out)]
    return Ping(int(summary[1]), int(summary[2]), int(summary[3] or 0), rtts)


def python(squall: SquallRunner, service: str, code: str, *args: str, timeout: float = 60) -> str:
    return squall("exec", "-T", service, "--", "python3", "-c", code, *args, timeout=timeout).stdout


def status(squall: SquallRunner) -> dict[str, Any]:
    """`status --json`; it exits 3 when the kernel differs from the faults in force."""
    done = squall("status", "--json", check=False)
    assert done.returncode in (0, 3), done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    assert (done.returncode == 3) == bool(found["drifted"]), done.stderr
    return found


def faults_of(squall: SquallRunner, service: str) -> dict[str, list[str]]:
    services = status(squall)["services"]
    assert isinstance(services, list)
    return next(s["faults"] for s in services if s["service"] == service)


def test_delay_to_one_peer_leaves_others_alone(squall: SquallRunner) -> None:
    base = statistics.median(ping(squall, "a", "b").rtts)
    base_tcp = float(python(squall, "a", TCP_RTT, "b", "10"))
    squall("shape", "a", "--delay", "100ms", "--to", "b")

    shaped = ping(squall, "a", "b", count=20)
    assert abs(statistics.median(shaped.rtts) - base - 100) < 2, shaped.rtts
    tcp = float(python(squall, "a", TCP_RTT, "b", "10"))
    assert abs(tcp - base_tcp - 100) < 2, tcp
    assert statistics.median(ping(squall, "a", "c").rtts) < 5, "c is not shaped"
    assert faults_of(squall, "a")["shapes"] == ["delay 100ms (egress) to b"]
    assert faults_of(squall, "a")["drift"] == []


def test_jitter_widens_the_spread(squall: SquallRunner) -> None:
    calm = ping(squall, "a", "b", count=40, interval=0.02)
    squall(
        "shape", "a", "--delay", "50ms", "--jitter", "10ms", "--distribution", "normal", "--to", "b"
    )
    jittery = ping(squall, "a", "b", count=60, interval=0.02)
    assert statistics.pstdev(calm.rtts) < 1
    assert 6 < statistics.pstdev(jittery.rtts) < 14, jittery.rtts
    assert 45 < statistics.median(jittery.rtts) < 56


def test_loss_lands_in_binomial_interval_and_spares_other_peers(squall: SquallRunner) -> None:
    squall("shape", "a", "--loss", "20%", "--to", "b")
    lossy = ping(squall, "a", "b", count=1000, interval=0.002)
    n, p = lossy.sent, 0.2
    margin = 2.576 * math.sqrt(n * p * (1 - p))
    assert abs((n - lossy.received) - n * p) <= margin, (lossy.sent, lossy.received)
    clean = ping(squall, "a", "c", count=300, interval=0.002)
    assert clean.received == clean.sent


@pytest.mark.parametrize(("rate", "kbit"), [("50kbps", 400), ("10mbit", 10_000)])
def test_rate_caps_throughput(squall: SquallRunner, rate: str, kbit: int) -> None:
    squall("shape", "a", "--rate", rate, "--to", "b")
    sink = subprocess.Popen(
        [*squall.argv("exec", "-T", "b", "--", "python3", "-u", "-c", SINK, "4")],
        stdout=subprocess.PIPE,
        text=True,
        env=squall.environment(),
    )
    try:
        assert sink.stdout is not None and sink.stdout.readline().strip() == "listening"
        python(squall, "a", SOURCE, "b", "4")
        measured = float(sink.communicate(timeout=30)[0])
    finally:
        sink.kill()
    assert abs(measured - kbit) <= 0.10 * kbit, f"{rate}: measured {measured:.0f} kbit/s"


def test_duplicates_and_corruption_are_visible(squall: SquallRunner) -> None:
    squall("shape", "a", "--duplicate", "50%", "--to", "b")
    dup = ping(squall, "a", "b", count=20, interval=0.02)
    assert dup.duplicates >= 3, dup

    def csum_errors() -> int:
        snmp = squall("exec", "-T", "c", "--", "cat", "/proc/net/snmp").stdout
        header, values = [line.split() for line in snmp.splitlines() if line.startswith("Udp:")][:2]
        return int(values[header.index("InCsumErrors")])

    before = csum_errors()
    squall("shape", "a", "--corrupt", "50%", "--to", "c", "--proto", "udp")
    python(squall, "a", UDP_SEND, "c", "400")
    assert csum_errors() - before > 100


def test_partition_blocks_across_groups_and_heals(squall: SquallRunner) -> None:
    squall("partition", "a,b", "c")
    assert ping(squall, "a", "b", count=3).received == 3
    for src, dst in (("a", "c"), ("c", "a"), ("b", "c")):
        cut = ping(squall, src, dst, count=3)
        assert cut.received == 0, (src, dst)
    assert python(squall, "a", TCP_CONNECTS, "c", "1").startswith("closed")
    assert python(squall, "c", TCP_CONNECTS, "b", "1").startswith("closed")
    assert python(squall, "a", TCP_CONNECTS, "b", "2").strip() == "open"
    for other in ("a", "c"):
        assert ping(squall, other, "h", count=2).received == 2, "holy: reached by all"
        assert ping(squall, "h", other, count=2).received == 2, "holy: reaches all"
        assert ping(squall, other, "n", count=2).received == 2, "neutral: reachable from all"
    assert faults_of(squall, "a")["cannot_reach"] == ["c"]

    squall("join")
    assert ping(squall, "a", "c", count=3).received == 3
    assert python(squall, "c", TCP_CONNECTS, "a", "2").strip() == "open"


def test_one_way_blocks_exactly_one_direction(squall: SquallRunner) -> None:
    squall("partition", "--one-way", "a", "b")
    assert ping(squall, "a", "b", count=3).received == 0
    assert python(squall, "a", TCP_CONNECTS, "b", "1").startswith("closed")
    assert ping(squall, "b", "a", count=3).received == 3
    assert python(squall, "b", TCP_CONNECTS, "a", "2").strip() == "open"


def test_holy_service_is_never_partitioned(squall: SquallRunner) -> None:
    refused = squall("partition", "h", "a", check=False)
    assert refused.returncode == 2
    assert "holy services are never partitioned: h" in refused.stderr
    assert status(squall)["partition"]["cuts"] == []


def test_partition_follows_a_restarted_service(squall: SquallRunner) -> None:
    squall("partition", "a", "c")
    squall("restart", "c")
    assert ping(squall, "a", "c", count=3).received == 0
    assert ping(squall, "c", "a", count=3).received == 0
    assert faults_of(squall, "c")["drift"] == []


def test_dry_run_prints_the_plan_and_changes_nothing(squall: SquallRunner) -> None:
    plan = squall("partition", "a", "c", "--dry-run").stdout
    assert "iptables-restore" in plan and "-j DROP" in plan
    assert ping(squall, "a", "c", count=2).received == 2
    assert status(squall)["partition"]["cuts"] == []


def test_presets_take_values_from_x_squall(squall: SquallRunner) -> None:
    squall("slow", "a")
    assert 39 < statistics.median(ping(squall, "a", "b", count=10).rtts) < 43
    squall("flaky", "c")
    assert ping(squall, "c", "b", count=5).received == 0
    squall("fast", "a", "c")
    assert ping(squall, "c", "b", count=3).received == 3
    assert statistics.median(ping(squall, "a", "b").rtts) < 5


def test_ingress_delay_is_real(squall: SquallRunner) -> None:
    squall("shape", "b", "--delay", "50ms", "--direction", "ingress")
    assert 49 < statistics.median(ping(squall, "a", "b", count=10).rtts) < 53
    assert statistics.median(ping(squall, "a", "c").rtts) < 5


def test_duration_restores_by_itself(squall: SquallRunner) -> None:
    # Long enough for the two checks below on a busy machine (each is a CLI start).
    squall("shape", "a", "--delay", "60ms", "--to", "b", "--duration", "8s")
    assert "until" in faults_of(squall, "a")["shapes"][0]
    assert statistics.median(ping(squall, "a", "b", count=3).rtts) > 59
    deadline = time.monotonic() + 25
    while faults_of(squall, "a")["shapes"]:
        assert time.monotonic() < deadline, "the timer never removed the shape"
        time.sleep(0.5)
    assert statistics.median(ping(squall, "a", "b", count=3).rtts) < 5


def test_killed_shaper_does_not_black_hole_and_fast_recovers(squall: SquallRunner) -> None:
    squall("shape", "a", "--delay", "100ms", "--to", "b")
    shaper = status(squall)["shaper"]
    assert isinstance(shaper, dict) and shaper["running"]
    subprocess.run(["kill", "-9", str(shaper["pid"])], check=True)
    time.sleep(0.3)

    flowing = ping(squall, "a", "b", count=5)
    assert flowing.received == 5 and statistics.median(flowing.rtts) < 5
    report = status(squall)
    assert any("shaper is not running" in d for d in faults_of(squall, "a")["drift"])
    shown = squall("status", check=False)
    assert "shaper NOT running" in shown.stdout
    assert shown.returncode == 3 and "`squall reconcile` repairs them" in shown.stderr
    assert report["shaper"] is not None

    squall("fast", "a")
    assert faults_of(squall, "a") == {"shapes": [], "cannot_reach": [], "drift": [], "notes": []}
    assert status(squall)["shaper"] is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["shape", "a", "--delay", "fast"], "--delay fast: not a duration"),
        (["shape", "a", "--loss", "120%"], "--loss 120%: must be between 0% and 100%"),
        (["shape", "nosuch", "--delay", "10ms"], "no service 'nosuch'"),
        (["shape", "a", "--delay", "10ms", "--to", "10.0.0.0/33"], "--to 10.0.0.0/33"),
        (["partition", "a", "nosuch"], "no service 'nosuch'"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    squall: SquallRunner, argv: list[str], message: str
) -> None:
    result = squall(*argv, check=False)
    assert result.returncode in (1, 2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    report = status(squall)
    assert all(not s["faults"]["shapes"] for s in report["services"])
    assert report["partition"]["cuts"] == []


def test_heal_leaves_no_rules_in_any_namespace(squall: SquallRunner) -> None:
    squall("partition", "a", "b,c")
    squall("shape", "b", "--delay", "10ms", "--rate", "1mbit", "--loss", "1%")
    squall("join")
    squall("fast", "--all")
    for s in status(squall)["services"]:
        netns = s["netns"]
        rules = subprocess.run(
            ["nsenter", f"--net={netns}", "iptables-save"],
            capture_output=True,
            text=True,
            check=True,
        )
        qdiscs = subprocess.run(
            ["nsenter", f"--net={netns}", "tc", "qdisc", "show"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "squall" not in rules.stdout.lower(), rules.stdout
        assert "5351:" not in qdiscs.stdout, qdiscs.stdout
    host = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    assert f"squall:{make_tag(squall.project)}" not in host, "faults never touch the host"


def test_down_stops_the_shaper_and_forgets_the_cluster(
    local_images: tuple[str, ...], tmp_path: Path
) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    runner = SquallRunner(
        tmp_path / "compose.yaml",
        f"sqtd{secrets.token_hex(3)}",
        {"SQUALL_STATE_DIR": str(tmp_path / "state")},
    )
    try:
        runner("up")
        runner("shape", "a", "--delay", "20ms", "--duration", "5m")
        pid = status(runner)["shaper"]["pid"]
    finally:
        runner("down")
    assert (
        not Path(f"/proc/{pid}").exists()
        or "squall.faults.shaper" not in Path(f"/proc/{pid}/cmdline").read_text()
    )
    assert not (tmp_path / "state" / runner.project).exists()
    timers = subprocess.run(
        ["pgrep", "-f", f"squall.expiry.*{runner.project}"], capture_output=True, text=True
    )
    assert timers.stdout.strip() == ""
