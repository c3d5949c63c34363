"""Time to apply and to clear faults: Squall in-process and by CLI, against Blockade's way.

For 3, 10 and 30 idle services (generated compose files, each cluster brought up once
with the squall CLI and always taken down at the end), four commands are timed:
`partition` (two halves), `join` (clears it), `slow` (every service) and `fast` (clears
it). Each is measured three ways, in the same run, rounds alternating:

- Squall in-process: a `Session` built as the CLI builds it, `session.partition(...)`,
  `session.join()`, `session.preset("slow", ...)`, `session.fast(...)`.
- Squall's CLI, end to end (`python -m squall -f FILE -p NAME partition A,B C,D`...).
- A Blockade-style baseline on a second cluster of `squall/debian:bookworm` services:
  one process per container per rule, containers one after another, as Blockade does.
  It does the same work as Squall: the very rules of Squall's own plan for that
  cluster (taken with `--dry-run`), `iptables -N/-A/-I` to apply and `-D/-F/-X` to
  clear, each as `docker exec CONTAINER iptables ...` (and `tc`/`ip` lines likewise),
  the baseline's services having `cap_add: [NET_ADMIN]` for it (this host refuses
  `docker exec --privileged`). The
  cost of a bare `docker exec CONTAINER true` per container is printed too: the floor
  of Blockade's and Pumba's one-`docker exec`-per-container way on its own.

Without `sch_netem` Squall's `slow` needs its userspace shaper: the first `slow` starts
that process, `fast` stops it, so every timed `slow` includes a shaper start-up. The
baseline has no shaper: it only sets the same iptables rules.

Prints medians in milliseconds per command and the ratio baseline / Squall. Goal (issue
7): under 50 ms per command at 10 services in-process, >= 20x faster than the baseline.

    python3 benchmarks/fault_apply.py [--sizes 3,10,30] [--rounds 5] [--no-cli]

Needs root, the Docker Engine and the local images squall/busybox and
squall/debian:bookworm (`squall images build`). Traffic: none (rules only).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from squall.faults.controller import PlannedNamespace
from squall.faults.kernel import read_back
from squall.faults.model import Shape
from squall.faults.partition import blockade_partition
from squall.faults.plan import KernelPlan
from squall.ops.opening import Where, open_session
from squall.runtime.base import ServiceState
from squall.session import Session
from squall.units import parse_rate

SQUALL_IMAGE = "squall/busybox:latest"
BASELINE_IMAGE = "squall/debian:bookworm"
IDLE = '["sh", "-c", "trap \'exit 0\' TERM; while true; do sleep 1; done"]'
COMMANDS = ("partition", "join", "slow", "fast", "rate", "fast-rate")
"""`rate` is `shape --rate 10mbit` on every service (htb: `tc` lines, so here the baseline
really runs `docker exec CONTAINER tc ...` per line); `fast-rate` clears it."""
RATE = "10mbit"
WAYS = ("in-process", "cli", "baseline")


def compose_file(directory: Path, services: int, image: str, net_admin: bool = False) -> Path:
    lines = ["services:"]
    for i in range(services):
        lines += [f"  s{i}:", f"    image: {image}", f"    command: {IDLE}"]
        if net_admin:  # `docker exec --privileged` is refused on this host; tc needs it
            lines += ["    cap_add: [NET_ADMIN]"]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "compose.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(argv: Sequence[str], cwd: Path | None = None) -> None:
    proc = subprocess.run(
        list(argv),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


@dataclass
class Cluster:
    """One generated cluster, its in-process session and its CLI prefix."""

    file: Path
    project: str
    session: Session = field(init=False)

    def __post_init__(self) -> None:
        where = Where.of_file(self.file, project=self.project, backend="docker")
        self.session = open_session(where)

    @property
    def cli(self) -> list[str]:
        return [sys.executable, "-m", "squall", "-f", str(self.file), "-p", self.project]

    @property
    def names(self) -> list[str]:
        return self.session.known_services()

    def halves(self) -> tuple[list[str], list[str]]:
        names = self.names
        return names[: len(names) // 2], names[len(names) // 2 :]

    def running(self) -> list[ServiceState]:
        return [s for s in self.session.status() if s.state == "running"]


# Squall -------------------------------------------------------------------------------


def squall_in_process(cluster: Cluster, command: str) -> float:
    s = cluster.session
    names = cluster.names
    left, right = cluster.halves()
    actions: dict[str, Callable[[], object]] = {
        "partition": lambda: s.partition(blockade_partition([left, right], names)),
        "join": s.join,
        "slow": lambda: s.preset("slow", names),
        "fast": lambda: s.fast(names),
        "rate": lambda: s.shape(names, Shape(rate=parse_rate(RATE))),
        "fast-rate": lambda: s.fast(names),
    }
    return timed(actions[command])


def squall_cli(cluster: Cluster, command: str) -> float:
    left, right = cluster.halves()
    args = {
        "partition": ["partition", ",".join(left), ",".join(right)],
        "join": ["join"],
        "slow": ["slow", "--all"],
        "fast": ["fast", "--all"],
        "rate": ["shape", "--all", "--rate", RATE],
        "fast-rate": ["fast", "--all"],
    }[command]
    return timed(lambda: run([*cluster.cli, *args], cwd=cluster.file.parent))


# The baseline -------------------------------------------------------------------------


@dataclass(frozen=True)
class BaselineStep:
    """One container's share of a command: argv lists, one process each."""

    container: str
    pid: int
    plan: KernelPlan

    def docker_exec(self, *argv: str) -> list[str]:
        return ["docker", "exec", self.container, *argv]

    def apply_argvs(self) -> list[list[str]]:
        p = self.plan
        out = [self.docker_exec("iptables", "-w", "-t", c.table, "-N", c.name) for c in p.chains]
        out += [
            self.docker_exec("iptables", "-w", "-t", r.table, "-A", r.chain, *r.args)
            for r in p.rules
        ]
        out += [
            self.docker_exec("iptables", "-w", "-t", c.table, "-I", c.hook, "1", *c.jump_args)
            for c in p.chains
        ]
        out += [self.docker_exec(*argv) for argv in (*p.links, *p.tc)]
        return out

    def clear_argvs(self) -> list[list[str]]:
        p = self.plan
        out = [
            self.docker_exec("iptables", "-w", "-t", c.table, "-D", c.hook, *c.jump_args)
            for c in p.chains
        ]
        for c in p.chains:
            out += [
                self.docker_exec("iptables", "-w", "-t", c.table, "-F", c.name),
                self.docker_exec("iptables", "-w", "-t", c.table, "-X", c.name),
            ]
        out += [self.docker_exec("tc", "qdisc", "del", "dev", d, "root") for d in p.root_devices]
        out += [
            self.docker_exec("tc", "qdisc", "del", "dev", d, "ingress") for d in p.ingress_devices
        ]
        out += [self.docker_exec("ip", "link", "del", name) for name in p.ifbs]
        return out


def baseline_steps(cluster: Cluster, planned: Sequence[PlannedNamespace]) -> list[BaselineStep]:
    steps = []
    for p in planned:
        state = p.resolved.service
        if state.pid is None:
            raise RuntimeError(f"{state.container} has no pid")
        steps.append(BaselineStep(state.container, state.pid, p.plan))
    return steps


@dataclass
class Baseline:
    """Squall's own plans for the baseline cluster, run Blockade's way."""

    cluster: Cluster
    partition: list[BaselineStep] = field(default_factory=list)
    slow: list[BaselineStep] = field(default_factory=list)
    rate: list[BaselineStep] = field(default_factory=list)

    def prepare(self) -> None:
        s = self.cluster.session
        names = self.cluster.names
        left, right = self.cluster.halves()
        cut = blockade_partition([left, right], names)
        self.partition = baseline_steps(self.cluster, s.partition(cut, dry_run=True))
        self.slow = baseline_steps(self.cluster, s.preset("slow", names, dry_run=True))
        rate = Shape(rate=parse_rate(RATE))
        self.rate = baseline_steps(self.cluster, s.shape(names, rate, dry_run=True))

    def steps(self, command: str) -> list[BaselineStep]:
        if command in ("partition", "join"):
            return self.partition
        return self.slow if command in ("slow", "fast") else self.rate

    def argvs(self, command: str) -> list[list[str]]:
        steps = self.steps(command)
        clearing = command in ("join", "fast", "fast-rate")
        return [a for st in steps for a in (st.clear_argvs() if clearing else st.apply_argvs())]

    def processes(self, command: str) -> int:
        return len(self.argvs(command))

    def run(self, command: str) -> float:
        argvs = self.argvs(command)

        def run_all() -> None:
            for argv in argvs:
                run(argv)

        return timed(run_all)

    def check(self, command: str) -> None:
        """After `command`: the first container holds exactly what Squall's plan says."""
        first = self.steps(command)[0]
        found = read_back(f"/proc/{first.pid}/ns/net", first.plan.tag)
        clearing = command in ("join", "fast", "fast-rate")
        drift = found.drift(KernelPlan(tag=first.plan.tag, label="") if clearing else first.plan)
        if drift:
            raise RuntimeError(f"baseline {command} did not do Squall's work: {drift}")

    def docker_exec_floor(self) -> float:
        """One bare `docker exec CONTAINER true` per container, in ms."""
        names = [st.container for st in self.partition]

        def run_all() -> None:
            for name in names:
                run(["docker", "exec", name, "true"])

        return timed(run_all)


# The run ------------------------------------------------------------------------------


def up(cluster: Cluster) -> None:
    run([*cluster.cli, "up"], cwd=cluster.file.parent)


def down(cluster: Cluster) -> None:
    subprocess.run(
        [*cluster.cli, "down"],
        cwd=cluster.file.parent,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


def measure_size(
    tmp: Path, size: int, rounds: int, ways: Sequence[str]
) -> tuple[dict[str, dict[str, list[float]]], Baseline, float]:
    sq = Cluster(compose_file(tmp / f"sq{size}", size, SQUALL_IMAGE), f"benchfa{size}")
    bl_file = compose_file(tmp / f"bl{size}", size, BASELINE_IMAGE, net_admin=True)
    bl = Cluster(bl_file, f"benchfb{size}")
    started: list[Cluster] = []
    times: dict[str, dict[str, list[float]]] = {c: {w: [] for w in ways} for c in COMMANDS}
    try:
        for cluster in (sq, bl):
            started.append(cluster)
            up(cluster)
        baseline = Baseline(bl)
        baseline.prepare()
        for command in COMMANDS:  # warm-up, and a check that the baseline does the work
            squall_in_process(sq, command)
            baseline.run(command)
            baseline.check(command)
        floor = statistics.median(baseline.docker_exec_floor() for _ in range(3))
        for round_no in range(rounds):
            order = list(ways) if round_no % 2 == 0 else list(reversed(ways))
            for way in order:
                for command in COMMANDS:
                    if way == "in-process":
                        ms = squall_in_process(sq, command)
                    elif way == "cli":
                        ms = squall_cli(sq, command)
                    else:
                        ms = baseline.run(command)
                    times[command][way].append(ms)
        return times, baseline, floor
    finally:
        for cluster in reversed(started):
            down(cluster)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="3,10,30")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-cli", action="store_true", help="Skip the CLI measurements.")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (faults are set inside the services' network namespaces)")
    # SIGTERM unwinds like Ctrl-C, so the clusters are still taken down.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    ways = [w for w in WAYS if not (args.no_cli and w == "cli")]
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="squall-bench-faults-") as tmp:
        os.environ["SQUALL_STATE_DIR"] = str(Path(tmp) / "state")
        header = f"{'services':>8} {'command':<10}" + "".join(f"{w + ' ms':>15}" for w in ways)
        header += f"{'baseline/in-proc':>18}" + (f"{'baseline/cli':>14}" if "cli" in ways else "")
        header += f"{'baseline procs':>16}"
        print(f"medians of {args.rounds} rounds; times in milliseconds")
        print(header)
        for size in sizes:
            times, baseline, floor = measure_size(Path(tmp), size, args.rounds, ways)
            for command in COMMANDS:
                med = {w: statistics.median(times[command][w]) for w in ways}
                line = f"{size:>8} {command:<10}" + "".join(f"{med[w]:>15.1f}" for w in ways)
                line += f"{med['baseline'] / med['in-process']:>17.1f}x"
                if "cli" in ways:
                    line += f"{med['baseline'] / med['cli']:>13.1f}x"
                line += f"{baseline.processes(command):>16}"
                print(line, flush=True)
            per_exec = floor / size
            print(
                f"{size:>8} one bare `docker exec CONTAINER true` per container: {floor:.1f} ms"
                f" ({per_exec:.1f} ms each); with one `docker exec` per rule, as Blockade and"
                " Pumba do where the image has the tool, the iptables rules above would cost"
                " at least "
                + ", ".join(
                    f"{c} {baseline.processes(c) * per_exec:.0f} ms"
                    for c in COMMANDS
                    if c not in ("rate", "fast-rate")
                )
                + " (estimate: processes x that cost)",
                flush=True,
            )


if __name__ == "__main__":
    main()
