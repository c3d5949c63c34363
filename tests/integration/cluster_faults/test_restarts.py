"""Faults follow a service that restarts outside Squall, on the real Docker Engine.

One cluster for the module: a and b (plain), c (`restart: always`), all idle. A
`docker restart`, or a crash that the restart policy answers, gives the service a new
network namespace without any rule; the cluster's watcher must put its faults back
within a couple of seconds. Proof is traffic, counted on the receiving side both ways
(UDP and ICMP: a one-way leak hides from ping) and ping's round trips for a delay.
Every test heals what it did; the module's `down` must leave no watcher behind.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

import squall.detach as detach
from squall.errors import FaultRolledBack
from squall.faults.model import Shape
from squall.linux.commands import FailAt, Runner
from squall.runtime.docker.backend import DockerBackend
from squall.session import ClusterRef, Session
from squall.spec.loader import load_cluster
from squall.units import parse_duration, parse_rate
from squall.watcher import MODULE, watcher_status
from tests.integration.cli_runner import SquallRunner
from tests.integration.traffic import icmp_delivered, ping_rtts, udp_delivered

COMPOSE = """\
x-node: &node
  image: squall/debian:bookworm
  init: true
  command: ["sleep", "infinity"]
services:
  a: *node
  b: *node
  c:
    <<: *node
    restart: always
"""
REPAIR_WITHIN = 2.0
"""Seconds the watcher may take, from the moment the service runs again."""


@dataclasses.dataclass
class Lab:
    squall: SquallRunner
    engine: docker.DockerClient
    state: Path

    def container(self, service: str) -> str:
        return f"{self.squall.project}-{service}-1"

    def pid(self, service: str) -> int:
        """The service's main process (0 while it is not running)."""
        return int(self.engine.api.inspect_container(self.container(service))["State"]["Pid"])

    def where(self, service: str) -> tuple[str, str]:
        """The service's namespace path and address, as the engine has them now."""
        info = self.engine.api.inspect_container(self.container(service))
        pid = info["State"]["Pid"]
        ip = next(iter(info["NetworkSettings"]["Networks"].values()))["IPAddress"]
        assert pid and ip, info["State"]
        return f"/proc/{pid}/ns/net", ip

    def session(self, runner: Runner | None = None) -> Session:
        spec = load_cluster(self.squall.file, project=self.squall.project)
        ref = ClusterRef(self.squall.project, spec)
        return Session.create(ref, DockerBackend(), self.state, runner=runner)


@pytest.fixture(scope="module")
def lab(
    local_images: tuple[str, ...],
    docker_client: docker.DockerClient,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("restarts")
    (directory / "compose.yaml").write_text(COMPOSE)
    state = directory / "state"
    runner = SquallRunner(
        directory / "compose.yaml", f"sqrs{secrets.token_hex(3)}", {"SQUALL_STATE_DIR": str(state)}
    )
    runner("up")
    try:
        yield Lab(runner, docker_client, state)
    finally:
        runner("down", check=False)
    left = detach.find(detach.Marker(MODULE, "--project", runner.project))
    assert left == [], f"down left watcher(s) {left}"


@pytest.fixture
def squall(lab: Lab) -> Iterator[Lab]:
    yield lab
    lab.squall("join")
    lab.squall("fast", "--all")


def cut_both_ways(lab: Lab, x: str, y: str) -> dict[str, int]:
    """What gets through between x and y, per protocol and direction (0 everywhere: cut)."""
    (xn, xip), (yn, yip) = lab.where(x), lab.where(y)
    return {
        f"udp {x}->{y}": udp_delivered(xn, yn, yip, wait=0.15),
        f"udp {y}->{x}": udp_delivered(yn, xn, xip, wait=0.15),
        f"icmp {x}->{y}": icmp_delivered(xn, yn, yip, wait=0.15),
        f"icmp {y}->{x}": icmp_delivered(yn, xn, xip, wait=0.15),
    }


def rtt_ms(lab: Lab, x: str, y: str) -> float:
    rtts = ping_rtts(lab.where(x)[0], lab.where(y)[1], count=3)
    return statistics.median(rtts) if rtts else 0.0


def eventually(check: Callable[[], bool], within: float) -> float:
    """Seconds until `check()` first holds; fails after `within`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, f"not within {within}s"
        time.sleep(0.05)
    return time.monotonic() - started


def restart_outside(lab: Lab, service: str) -> None:
    subprocess.run(("docker", "restart", "-t", "1", lab.container(service)), check=True)


def test_partition_holds_both_ways_after_docker_restart(squall: Lab) -> None:
    open_counts = cut_both_ways(squall, "a", "b")
    assert all(n == 20 for n in open_counts.values()), open_counts
    squall.squall("partition", "a", "b")
    assert set(cut_both_ways(squall, "a", "b").values()) == {0}
    for _ in range(2):  # the second proves the first repair left the watcher going
        restart_outside(squall, "b")
        eventually(lambda: set(cut_both_ways(squall, "a", "b").values()) == {0}, REPAIR_WITHIN)
    logged = [e for e in squall.session().events() if e.who == "watcher"]
    assert logged and logged[-1].what == "reconcile" and logged[-1].targets == ("b",)
    assert squall.squall("status", check=False).returncode == 0


def test_delay_is_back_after_restart_and_after_a_crash(squall: Lab) -> None:
    assert rtt_ms(squall, "a", "b") < 5
    squall.squall("shape", "b", "--delay", "100ms")
    squall.squall("shape", "c", "--delay", "100ms")
    assert rtt_ms(squall, "a", "b") >= 99
    restart_outside(squall, "b")
    eventually(lambda: rtt_ms(squall, "a", "b") >= 99, REPAIR_WITHIN + 1)
    # A crash: the restart policy brings c back, not Squall and not `docker restart`.
    pid = squall.pid("c")
    os.kill(pid, signal.SIGKILL)
    eventually(lambda: squall.pid("c") not in (0, pid), 10)
    eventually(lambda: rtt_ms(squall, "a", "c") >= 99, REPAIR_WITHIN + 1)


def test_status_says_what_repairs_drift_and_reconcile_does(squall: Lab) -> None:
    squall.squall("partition", "a", "b")
    netns, _ = squall.where("b")
    # Rules removed by hand: no event tells the watcher, status must.
    subprocess.run(("nsenter", f"--net={netns}", "iptables", "-F"), check=True)
    assert cut_both_ways(squall, "a", "b")["udp a->b"] == 20
    drifted = squall.squall("status", check=False)
    assert drifted.returncode == 3, drifted
    assert drifted.stderr.strip().endswith(
        "squall: error: faults not in force on b: `squall reconcile` repairs them"
        f" (the watcher, pid {watcher_status(squall.state / squall.squall.project).pid},"
        " repairs a restarted service within a second)"
    )
    squall.squall("reconcile")
    assert set(cut_both_ways(squall, "a", "b").values()) == {0}
    assert squall.squall("status", check=False).returncode == 0


@pytest.mark.parametrize(
    "command",
    [("status",), ("logs", "a"), ("exec", "-T", "a", "--", "true")],
    ids=["status", "logs", "exec"],
)
def test_a_dead_watcher_is_restarted_by_the_next_command(
    squall: Lab, command: tuple[str, ...]
) -> None:
    squall.squall("partition", "a", "b")
    state_dir = squall.state / squall.squall.project
    first = watcher_status(state_dir).pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    eventually(lambda: not watcher_status(state_dir).running, 5)
    squall.squall(*command, check=False)
    second = watcher_status(state_dir).pid
    assert second is not None and second != first
    restart_outside(squall, "b")
    eventually(lambda: set(cut_both_ways(squall, "a", "b").values()) == {0}, REPAIR_WITHIN + 1)


def test_a_failed_change_leaves_the_delay_in_force(squall: Lab) -> None:
    """All or nothing on Docker: each kernel command of the change fails in turn."""
    squall.squall("shape", "a", "--delay", "20ms", "--to", "b")
    change = Shape(rate=parse_rate("1mbit"))
    counter = FailAt(0)
    squall.session(Runner(fail=counter)).shape(["a"], change, to_services=["b"])
    squall.session().shape(["a"], Shape(delay=parse_duration("20ms")), to_services=["b"])
    assert counter.ran >= 2
    for nth in range(1, counter.ran + 1):
        with pytest.raises(FaultRolledBack, match="nothing changed"):
            squall.session(Runner(fail=FailAt(nth))).shape(["a"], change, to_services=["b"])
        assert rtt_ms(squall, "a", "b") >= 19.5, f"step {nth}"
    refused = squall.squall(
        "shape", "a", "--rate", "99999999999999999999tbit", "--to", "b", check=False
    )
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "squall: error: --rate 99999999999999999999tbit: at most 1000tbit"
    )
    assert rtt_ms(squall, "a", "b") >= 19.5


def test_a_network_joined_outside_squall_is_cut_at_once(squall: Lab) -> None:
    squall.squall("partition", "a", "b")
    side = squall.engine.networks.create(f"{squall.squall.project}-side")
    try:
        for service in ("a", "b"):
            side.connect(squall.container(service))
        side.reload()

        def side_ip(service: str) -> str:
            info = squall.engine.api.inspect_container(squall.container(service))
            return str(info["NetworkSettings"]["Networks"][side.name]["IPAddress"])

        (a, _), (b, _) = squall.where("a"), squall.where("b")

        def cut_on_side() -> bool:
            return (
                udp_delivered(a, b, side_ip("b"), wait=0.1) == 0
                and udp_delivered(b, a, side_ip("a"), wait=0.1) == 0
            )

        eventually(cut_on_side, REPAIR_WITHIN)
    finally:
        for service in ("a", "b"):
            side.disconnect(squall.container(service))
        side.remove()
