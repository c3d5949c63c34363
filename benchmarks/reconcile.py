"""Time from a `docker restart` outside Squall to its faults being back in force.

One Docker cluster of three idle services: `partition a b,c` (a cut from b and c) and
`shape b --delay 100ms`. Then, `--rounds` times, `docker restart -t 1 B` is run as a
user would run it, and from the moment it is started the network is probed until

- the partition holds again both ways: UDP datagrams from a to b and from b to a,
  counted on the receiving side (sockets opened inside each namespace), none arrive;
- the shape is back: a ping from c to b takes 100 ms or more.

Printed per measure: p50 and p99 in milliseconds of the time from the start of
`docker restart` and from the container's own start (the Engine's `State.StartedAt`:
what the watcher can react to), beside how long `docker restart` itself takes. Goal
(issue 14): p99 under 1 s from the container's start.

    python3 benchmarks/reconcile.py [--rounds 20]

Needs root, the Docker Engine and the local image squall/debian:bookworm (`squall
images build`). Traffic: only between the benchmark's own containers.
"""

from __future__ import annotations

import argparse
import datetime
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the traffic probes of tests/

from tests.integration.traffic import ping_rtts, udp_delivered

from squall.probe import percentile

IDLE = "{image: squall/debian:bookworm, init: true, command: [sleep, infinity]}"
COMPOSE = "services:\n" + "".join(f"  {name}: {IDLE}\n" for name in "abc")
GIVE_UP = 10.0
"""Seconds after which a round counts as never repaired (and the run fails)."""


@dataclass
class Round:
    restart_s: float
    """How long `docker restart -t 1` took."""
    started_after_s: float
    """From the start of `docker restart` to the container's start (`StartedAt`)."""
    partition_s: float
    shape_s: float
    """From the start of `docker restart` until each fault held again."""


@dataclass
class Bench:
    directory: Path
    project: str = field(default_factory=lambda: f"sqbr{secrets.token_hex(3)}")
    engine: docker.APIClient = field(default_factory=docker.APIClient)

    def squall(self, *args: str) -> None:
        env = {**os.environ, "SQUALL_STATE_DIR": str(self.directory / "state")}
        argv = [sys.executable, "-m", "squall", "-f", str(self.directory / "compose.yaml")]
        subprocess.run([*argv, "-p", self.project, *args], env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip

    def container(self, service: str) -> str:
        return f"{self.project}-{service}-1"

    def where(self, service: str) -> tuple[str, str, float] | None:
        """Namespace, address and start time of a running service (None otherwise)."""
        info = self.engine.inspect_container(self.container(service))
        pid = info["State"]["Pid"]
        if not pid:
            return None
        ip = next(iter(info["NetworkSettings"]["Networks"].values()))["IPAddress"]
        return f"/proc/{pid}/ns/net", ip, _unix(info["State"]["StartedAt"])

    def cut(self) -> bool:
        a, b = self.where("a"), self.where("b")
        if a is None or b is None:
            return False
        to_b = udp_delivered(a[0], b[0], b[1], count=2, wait=0.01)
        return to_b == 0 and udp_delivered(b[0], a[0], a[1], count=2, wait=0.01) == 0

    def delayed(self) -> bool:
        c, b = self.where("c"), self.where("b")
        if c is None or b is None:
            return False
        rtts = ping_rtts(c[0], b[1], count=1)
        return bool(rtts) and rtts[0] >= 99.0

    def round(self) -> Round:
        started = time.time()
        subprocess.run(("docker", "restart", "-t", "1", self.container("b")), check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        restart = time.time() - started
        # One poller per fault: a ping that sees the delay takes 100 ms, which must not
        # hold back the next look at the partition.
        back: dict[str, float] = {}
        checks: dict[str, Callable[[], bool]] = {"partition": self.cut, "shape": self.delayed}
        pollers = [
            threading.Thread(target=_poll, args=(check, started, back, name))
            for name, check in checks.items()
        ]
        for poller in pollers:
            poller.start()
        for poller in pollers:
            poller.join()
        if len(back) < len(checks):
            raise SystemExit(f"faults not back {GIVE_UP:g}s after docker restart: {back}")
        b = self.where("b")
        assert b is not None
        return Round(restart, b[2] - started, back["partition"], back["shape"])


def _poll(check: Callable[[], bool], started: float, back: dict[str, float], name: str) -> None:
    """Probe until `check` holds; when its first passing probe began goes to `back`."""
    while time.time() - started < GIVE_UP:
        probed = time.time()
        if check():
            back[name] = probed - started
            return


def _unix(stamp: str) -> float:
    """The Engine's RFC 3339 time with nanoseconds, as Unix time."""
    whole, _, rest = stamp.rstrip("Z").partition(".")
    moment = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.UTC)
    return moment.timestamp() + float(f"0.{rest or '0'}")


def _row(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{name:<50} p50 {percentile(ms, 50) or 0:7.0f}   p99 {percentile(ms, 99) or 0:7.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (probes enter the containers' namespaces)")
    with tempfile.TemporaryDirectory(prefix="squall-reconcile-") as tmp:
        bench = Bench(Path(tmp))
        (bench.directory / "compose.yaml").write_text(COMPOSE)
        bench.squall("up")
        try:
            bench.squall("partition", "a", "b,c")
            bench.squall("shape", "b", "--delay", "100ms")
            assert bench.cut() and bench.delayed(), "faults not in force before the rounds"
            rounds = [bench.round() for _ in range(args.rounds)]
        finally:
            bench.squall("down")
    print(f"{args.rounds} outside `docker restart -t 1` of b; milliseconds")
    print(_row("docker restart itself", [r.restart_s for r in rounds]))
    print(_row("restart called -> container started", [r.started_after_s for r in rounds]))
    print(_row("restart called -> partition back (UDP both ways)", [r.partition_s for r in rounds]))
    print(_row("restart called -> 100 ms shape back (ping)", [r.shape_s for r in rounds]))
    since_start = [r.partition_s - r.started_after_s for r in rounds]
    print(_row("container started -> partition back", since_start))
    print(_row("container started -> shape back", [r.shape_s - r.started_after_s for r in rounds]))
    worst = max(max(since_start), max(r.shape_s - r.started_after_s for r in rounds))
    print(f"goal: p99 < 1000 ms from the container's start; worst round {worst * 1000:.0f} ms")


if __name__ == "__main__":
    main()
