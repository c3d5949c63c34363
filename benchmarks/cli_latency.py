"""How long a command takes as a user runs it: a whole `squall` process, start to exit.

In one run, rounds alternating, medians in ms side by side:

- the bare interpreter start (`python -c pass`) and `squall --help` (goal: <= 5x it);
- on a 10-service netns cluster: `partition` (two halves), `join`, `slow`, `fast`,
  `status` (goal: <= 150 ms each), and `status --json` on 100 services (<= 300 ms);
- on a 10-service Docker cluster: the same five (goal: <= 250 ms), next to
  `docker-compose ps` on that cluster for `status`, and, for the fault commands,
  Blockade's way from `fault_apply.py`: one `docker exec CONTAINER iptables ...` per
  rule of Squall's own plan, on a second cluster of `squall/debian:bookworm` services.

Bytecode is cached in a temporary folder (`PYTHONPYCACHEPREFIX`) and warmed first, as
an installed package has its `.pyc` files; `PYTHONDONTWRITEBYTECODE` is dropped.

    python3 benchmarks/cli_latency.py [--rounds 7] [--no-docker]

Needs root (netns); the Docker part needs the engine, `docker-compose` and the local
images (`squall images build`). Every cluster it makes is taken down at the end.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IDLE = '["sh", "-c", "trap \'exit 0\' TERM; while true; do sleep 1; done"]'
FAULTS = ("partition", "join", "slow", "fast", "status")
GOALS = {"netns": 150.0, "docker": 250.0}


def compose(directory: Path, services: int, image: str, net_admin: bool = False) -> Path:
    lines = ["services:"]
    for i in range(services):
        lines += [f"  s{i}:", f"    image: {image}", f"    command: {IDLE}"]
        if net_admin:
            lines += ["    cap_add: [NET_ADMIN]"]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "compose.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def user_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    env["PYTHONPATH"] = str(REPO / "src")
    return env


def timed(argv: Sequence[str], env: dict[str, str], cwd: Path | None = None) -> float:
    """Wall time of one process in ms; a failing command stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(
        list(argv), env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    took = (time.perf_counter() - started) * 1000
    if done.returncode not in (0, 3):  # 3: status found drift, still a full answer
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()[-400:]}")
    return took


class Cluster:
    def __init__(
        self, file: Path, backend: str, env: dict[str, str], project: str | None = None
    ) -> None:
        self.file, self.env = file, env
        self.project = project or f"clilat{secrets.token_hex(3)}"
        self.cli = [sys.executable, "-m", "squall", "-f", str(file), "-p", self.project]
        self.cli += ["--backend", backend]

    def run(self, *args: str) -> float:
        return timed([*self.cli, *args], self.env, self.file.parent)

    def fault(self, command: str, services: int) -> float:
        names = [f"s{i}" for i in range(services)]
        half = len(names) // 2
        args = {
            "partition": ["partition", ",".join(names[:half]), ",".join(names[half:])],
            "join": ["join"],
            "slow": ["slow", "--all"],
            "fast": ["fast", "--all"],
            "status": ["status"],
        }[command]
        return self.run(*args)

    def down(self) -> None:
        subprocess.run([*self.cli, "down"], env=self.env, capture_output=True, check=False)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(figures: dict[str, list[float]], rounds: int, *, docker: bool) -> None:
    """The medians, each with its goal, its ratio to the bare start and to the other tool."""
    bare = median(figures["bare"])
    print(f"CLI latency, medians of {rounds} (ms); bare interpreter start {bare:.0f} ms")
    print(f"{'command':<28}{'squall':>9}{'goal':>8}{'x bare':>8}{'other':>10}{'other/squall':>14}")
    help_ms = median(figures["help"])
    print(f"{'--help':<28}{help_ms:>9.0f}{5 * bare:>8.0f}{help_ms / bare:>8.1f}")
    rows: list[tuple[str, float, str | None]] = [
        (f"netns {c}", GOALS["netns"], None) for c in FAULTS
    ]
    rows.append(("netns status --json 100", 300.0, None))
    if docker:
        rows += [
            (
                f"docker {c}",
                GOALS["docker"],
                "docker-compose ps" if c == "status" else f"baseline {c}",
            )
            for c in FAULTS
        ]
    for key, goal, other in rows:
        ms = median(figures[key])
        line = f"{key:<28}{ms:>9.0f}{goal:>8.0f}{ms / bare:>8.1f}"
        if other is not None:
            theirs = median(figures[other])
            line += f"{theirs:>10.0f}{theirs / ms:>14.2f}"
        print(line)
    if docker:
        print("other: `docker-compose ps` for status; one `docker exec` per rule for faults")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-docker", action="store_true")
    args = parser.parse_args()
    figures: dict[str, list[float]] = {}

    def add(key: str, ms: float) -> None:
        figures.setdefault(key, []).append(ms)

    with tempfile.TemporaryDirectory(prefix="squall-clilat-") as tmp_text:
        tmp = Path(tmp_text)
        env = user_env(tmp / "pycache")
        help_argv = [sys.executable, "-m", "squall", "--help"]
        timed(help_argv, env)  # warm the bytecode cache
        clusters: list[Cluster] = []
        try:
            n10 = Cluster(compose(tmp / "n10", 10, "ignored"), "netns", env)
            n100 = Cluster(compose(tmp / "n100", 100, "ignored"), "netns", env)
            clusters += [n10, n100]
            docker: Cluster | None = None
            baseline = None
            if not args.no_docker:
                docker = Cluster(compose(tmp / "d10", 10, "squall/busybox:latest"), "docker", env)
                clusters.append(docker)
            for cluster in clusters:
                cluster.run("up")
            if docker is not None:
                sys.path.insert(0, str(REPO / "benchmarks"))
                import fault_apply  # the one-docker-exec-per-rule baseline

                bl_file = compose(tmp / "b10", 10, fault_apply.BASELINE_IMAGE, net_admin=True)
                bl_cluster = fault_apply.Cluster(bl_file, f"clilatb{secrets.token_hex(3)}")
                clusters.append(Cluster(bl_file, "docker", env, bl_cluster.project))
                fault_apply.up(bl_cluster)
                baseline = fault_apply.Baseline(bl_cluster)
                baseline.prepare()
            for _ in range(args.rounds):
                add("bare", timed([sys.executable, "-c", "pass"], env))
                add("help", timed(help_argv, env))
                for command in FAULTS:
                    add(f"netns {command}", n10.fault(command, 10))
                add("netns status --json 100", n100.run("status", "--json"))
                if docker is not None and baseline is not None:
                    for command in FAULTS:
                        add(f"docker {command}", docker.fault(command, 10))
                        if command != "status":
                            add(f"baseline {command}", baseline.run(command))
                    compose_ps = ["docker-compose", "-f", str(docker.file), "-p", docker.project]
                    add("docker-compose ps", timed([*compose_ps, "ps"], env))
        finally:
            for cluster in clusters:
                cluster.down()

    report(figures, args.rounds, docker=not args.no_docker)


if __name__ == "__main__":
    main()
