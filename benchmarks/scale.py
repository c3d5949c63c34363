"""Large clusters: 1000 services on netns, 100 on Docker, against docker-compose.

In one run, medians in seconds side by side with their goals:

- netns, N services (default 1000) on the default network, through the CLI: `up`
  (goal <= 10 s), a partition into two halves (<= 1 s), `status --json` (<= 1 s),
  `join`, `down` (<= 5 s), and what is left of the cluster in the kernel afterwards
  (namespaces, links, chains, supervisor: must be nothing);
- Docker, M services (default 100): `squall up` + `squall down` against
  `docker-compose up -d` + `docker-compose down` on the same file (goal: squall <=
  0.8x docker-compose), and a partition into two halves in-process (a `Session`, as in
  `fault_apply.py`; goal <= 0.5 s) and through the CLI (<= 1 s), with `join` after each.

    python3 benchmarks/scale.py [--netns 1000] [--docker 100] [--rounds 3]
    python3 benchmarks/scale.py --docker 0        # netns only

Needs root; the Docker part needs the engine, `docker-compose` and `squall images
build`. Every cluster it makes is taken down at the end. Traffic: none.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import fault_apply  # noqa: E402  (the Docker helpers: clusters, in-process partition)

from squall.runtime.netns import naming  # noqa: E402
from squall.runtime.netns.config import find_supervisors  # noqa: E402

IDLE = '["sleep", "infinity"]'


def netns_file(directory: Path, services: int) -> Path:
    lines = ["services:"]
    for i in range(services):
        lines += [f"  s{i}:", "    image: ignored", f"    command: {IDLE}"]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "compose.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run(argv: list[str], cwd: Path) -> None:
    done = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode not in (0, 3):
        raise RuntimeError(f"{' '.join(argv[:8])} ... failed: {done.stderr.strip()[-400:]}")


def leftovers(project: str) -> list[str]:
    """What the kernel still holds of `project`, found the way `down` finds it."""
    found = [n for n in os.listdir(naming.NETNS_DIR) if naming.service_of_netns(project, n)]
    links = json.loads(subprocess.run(["ip", "-j", "link", "show"], capture_output=True).stdout)
    found += [ln["ifname"] for ln in links if ln["ifname"].startswith(naming.link_prefix(project))]
    saved = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    if naming.chain_name(project) in saved:
        found.append(naming.chain_name(project))
    return found + [f"supervisor {pid}" for pid in find_supervisors(project)]


def netns_scale(tmp: Path, services: int, rounds: int) -> dict[str, list[float]]:
    file = netns_file(tmp / "netns", services)
    project = f"scale{secrets.token_hex(3)}"
    cli = [sys.executable, "-m", "squall", "-f", str(file), "-p", project, "--backend", "netns"]
    names = [f"s{i}" for i in range(services)]
    halves = [",".join(names[: services // 2]), ",".join(names[services // 2 :])]
    figures: dict[str, list[float]] = {}
    for _ in range(rounds):
        try:
            steps = [
                ("up", ["up"]),
                ("partition", ["partition", *halves]),
                ("status --json", ["status", "--json"]),
                ("join", ["join"]),
                ("down", ["down"]),
            ]
            for label, args in steps:
                figures.setdefault(label, []).append(
                    seconds(lambda args=args: run([*cli, *args], file.parent))
                )
        finally:
            subprocess.run([*cli, "down"], cwd=file.parent, capture_output=True, check=False)
        left = leftovers(project)
        figures.setdefault("left after down", []).append(float(len(left)))
        if left:
            print(f"netns: left after down: {left[:5]}", file=sys.stderr)
    return figures


def docker_scale(tmp: Path, services: int, rounds: int) -> dict[str, list[float]]:
    file = fault_apply.compose_file(tmp / "docker", services, fault_apply.SQUALL_IMAGE)
    compose = ["docker-compose", "-f", str(file), "-p", f"scalec{secrets.token_hex(3)}"]
    cluster = fault_apply.Cluster(file, f"scaled{secrets.token_hex(3)}")
    figures: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        figures.setdefault(key, []).append(value)

    try:
        for _ in range(rounds):
            add("squall up", seconds(lambda: fault_apply.up(cluster)))
            for way in ("in-process", "cli"):
                measure = (
                    fault_apply.squall_in_process
                    if way == "in-process"
                    else (fault_apply.squall_cli)
                )
                add(f"partition {way}", measure(cluster, "partition") / 1000)
                add(f"join {way}", measure(cluster, "join") / 1000)
            add("squall down", seconds(lambda: fault_apply.down(cluster)))
            add("compose up", seconds(lambda: run([*compose, "up", "-d"], file.parent)))
            # docker-compose 1.29 may fail to remove the network at once; timed as it ran
            add("compose down", seconds(lambda: subprocess.run([*compose, "down"], check=False)))
    finally:
        fault_apply.down(cluster)
        subprocess.run([*compose, "down"], cwd=file.parent, capture_output=True, check=False)
    return figures


def med(figures: dict[str, list[float]], key: str) -> float:
    return statistics.median(figures[key])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--netns", type=int, default=1000, help="services (0: skip)")
    parser.add_argument("--docker", type=int, default=100, help="services (0: skip)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds on Docker")
    parser.add_argument("--netns-rounds", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="squall-scale-") as tmp_text:
        tmp = Path(tmp_text)
        if args.netns:
            got = netns_scale(tmp, args.netns, args.netns_rounds)
            print(f"netns, {args.netns} services, medians of {args.netns_rounds} (s)")
            goals = {"up": 10.0, "partition": 1.0, "status --json": 1.0, "down": 5.0}
            for key in ("up", "partition", "status --json", "join", "down"):
                goal = f"{goals[key]:>8.1f}" if key in goals else f"{'-':>8}"
                ratio = f"{med(got, key) / goals[key]:>10.2f}" if key in goals else ""
                print(f"  {key:<16}{med(got, key):>9.2f}{goal}{ratio}")
            print(f"  left after down: {med(got, 'left after down'):.0f} objects (goal 0)")
        if args.docker:
            got = docker_scale(tmp, args.docker, args.rounds)
            print(f"docker, {args.docker} services, medians of {args.rounds} (s)")
            squall = med(got, "squall up") + med(got, "squall down")
            compose = med(got, "compose up") + med(got, "compose down")
            print(f"  up+down   squall {squall:.2f}  docker-compose {compose:.2f}", end="")
            print(f"  squall/compose {squall / compose:.2f} (goal <= 0.8)")
            for way, goal in (("in-process", 0.5), ("cli", 1.0)):
                p, j = med(got, f"partition {way}"), med(got, f"join {way}")
                print(f"  partition {way:<11}{p:>7.2f} (goal <= {goal})  join {j:.2f}")


if __name__ == "__main__":
    main()
