"""A cluster on three Docker Engines: Squall against the engine's own multi-host path.

Three `dockerd`, each in its own network namespace on one bridge (the multi-host test
fixture's engines), joined in one Swarm. Side by side in one run, alternating:

- `up` + `down` of N services spread over the 3 hosts: `squall up`/`down` against
  `docker stack deploy --resolve-image never` (no registry here; until every task
  runs) / `docker stack rm` (until every container is gone) of the same services on
  the same Swarm; medians and the ratio squall / stack (goal <= 1.0);
- partition, join, slow, fast across the hosts at M services, in-process
  (`squall.Cluster`, goal < 300 ms) and through the CLI (goal < 600 ms), against one
  `docker exec ... iptables` per rule per container doing the same cuts (goal: Squall
  >= 10x faster).

    python3 benchmarks/multihost.py [--services 10] [--fault-services 30] [--rounds 3]
    python3 benchmarks/multihost.py --fault-services 0     # up/down only

Needs root, `dockerd`, `nsenter` and the `docker` CLI, and `squall images build` done.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.multihost.engines import Engines  # noqa: E402

from squall import Cluster  # noqa: E402

BUSYBOX = "squall/busybox:latest"
DEBIAN = "squall/debian:bookworm"
IDLE = '["sh", "-c", "trap \'exit 0\' TERM; while true; do sleep 1; done"]'


def squall_file(folder: Path, engines: Engines, services: int, image: str, extra: str = "") -> Path:
    hosts = "".join(f'    {e.name}: {{engine: "{e.unix_url}"}}\n' for e in engines.engines)
    lines = [f"  s{i}: {{image: {image}, command: {IDLE}{extra}}}" for i in range(services)]
    path = folder / "compose.yaml"
    path.write_text("x-squall:\n  hosts:\n" + hosts + "services:\n" + "\n".join(lines) + "\n")
    return path


def stack_file(folder: Path, services: int) -> Path:
    """The same services for `docker stack deploy` (which spreads them by itself)."""
    lines = [
        f"  s{i}:\n    image: {BUSYBOX}\n    command: {IDLE}\n    deploy: {{replicas: 1}}"
        for i in range(services)
    ]
    path = folder / "stack.yaml"
    path.write_text('version: "3.8"\nservices:\n' + "\n".join(lines) + "\n")
    return path


def run(argv: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL
    )
    return done.stdout


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def wait_until(check: Callable[[], bool], limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.1)


def stack_round(engines: Engines, file: Path, services: int) -> tuple[float, float]:
    manager = ["docker", "-H", engines.engines[0].unix_url]

    def running() -> bool:
        out = run([*manager, "service", "ls", "--format", "{{.Replicas}}"])
        return out.count("1/1") == services

    def gone() -> bool:
        label = "label=com.docker.stack.namespace=bench"
        return all(
            not run(["docker", "-H", e.unix_url, "ps", "-aq", "--filter", label]).strip()
            for e in engines.engines
        )

    up = timed(
        lambda: (
            run(
                [*manager, "stack", "deploy", "--resolve-image", "never", "-c", str(file), "bench"]
            ),
            wait_until(running),
        )
    )
    down = timed(lambda: (run([*manager, "stack", "rm", "bench"]), wait_until(gone)))
    return up, down


def squall_round(file: Path, env: dict[str, str]) -> tuple[float, float]:
    base = [sys.executable, "-m", "squall", "-f", str(file), "-p", "benchsq"]
    up = timed(lambda: run([*base, "up"], env))
    down = timed(lambda: run([*base, "down"], env))
    return up, down


def fault_rounds(file: Path, env: dict[str, str], services: int, rounds: int) -> None:
    """Partition/join/slow/fast in-process and through the CLI, and the exec baseline."""
    base = [sys.executable, "-m", "squall", "-f", str(file), "-p", "benchflt"]
    run([*base, "up"], env)
    try:
        cluster = Cluster(file, "benchflt", state_root=env["SQUALL_STATE_DIR"])
        half = [f"s{i}" for i in range(services // 2)]
        rest = [f"s{i}" for i in range(services // 2, services)]
        steps: dict[str, Callable[[], object]] = {
            "partition": lambda: cluster.partition(half, rest),
            "join": cluster.join,
            "slow": lambda: cluster.slow(half),
            "fast": lambda: cluster.fast(),
        }
        cli = {
            "partition": [*base, "partition", ",".join(half), ",".join(rest)],
            "join": [*base, "join"],
            "slow": [*base, "slow", *half],
            "fast": [*base, "fast", "--all"],
        }
        inproc: dict[str, list[float]] = {k: [] for k in steps}
        viacli: dict[str, list[float]] = {k: [] for k in steps}
        for _ in range(rounds):
            for name, step in steps.items():
                inproc[name].append(timed(step))
            for name, argv in cli.items():
                viacli[name].append(timed(lambda argv=argv: run(argv, env)))
        exec_times = [timed(lambda: exec_baseline(cluster, half, rest)) for _ in range(rounds)]
        cluster.close()
        print(f"\nfaults across 3 hosts, {services} services (median of {rounds}):")
        print(f"{'step':<10} {'in-process':>11} {'CLI':>9}")
        for name in steps:
            print(
                f"{name:<10} {statistics.median(inproc[name]) * 1000:>9.0f}ms "
                f"{statistics.median(viacli[name]) * 1000:>7.0f}ms"
            )
        partition = statistics.median(inproc["partition"])
        baseline = statistics.median(exec_times)
        print(
            f"docker exec iptables, one per rule per container: {baseline * 1000:.0f}ms "
            f"(partition in-process is {baseline / partition:.1f}x faster; goal >= 10x)"
        )
    finally:
        run([*base, "down"], env)


def exec_baseline(cluster: Cluster, half: list[str], rest: list[str]) -> None:
    """The same cut by hand: in each container of one side, one DROP per peer address,
    each through its own `docker exec` (as Blockade-style tools do), then removed."""
    states = {s.member: s for s in cluster.services()}
    for side, other in ((half, rest), (rest, half)):
        for name in side:
            state = states[name]
            engine = f"unix:///run/squall-multihost/{state.host}.sock"
            for peer in other:
                ip = states[peer].addresses[0].ip or ""
                for verb in ("-A", "-D"):
                    run(
                        [
                            "docker",
                            "-H",
                            engine,
                            "exec",
                            state.id or "",
                            "iptables",
                            verb,
                            "OUTPUT",
                            "-d",
                            ip,
                            "-j",
                            "DROP",
                        ]
                    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--fault-services", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    engines = Engines(3)
    try:
        engines.start((BUSYBOX, DEBIAN))
        first = engines.engines[0].client()
        first.init_swarm(advertise_addr=engines.engines[0].ip, listen_addr="0.0.0.0:2377")
        token = first.inspect_swarm()["JoinTokens"]["Worker"]
        for other in engines.engines[1:]:
            other.client().join_swarm(
                [f"{engines.engines[0].ip}:2377"],
                token,
                advertise_addr=other.ip,
                listen_addr="0.0.0.0:2377",
            )
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            env = {**os.environ, "SQUALL_STATE_DIR": str(folder / "state")}
            squall = squall_file(folder, engines, args.services, BUSYBOX)
            stack = stack_file(folder, args.services)
            rows: dict[str, list[tuple[float, float]]] = {"squall": [], "stack": []}
            for _ in range(args.rounds):
                rows["squall"].append(squall_round(squall, env))
                rows["stack"].append(stack_round(engines, stack, args.services))
            print(f"up + down, {args.services} services on 3 hosts (median of {args.rounds}):")
            medians = {}
            for tool, found in rows.items():
                up = statistics.median(u for u, _d in found)
                down = statistics.median(d for _u, d in found)
                medians[tool] = (up, down)
                print(f"{tool:<7} up {up:6.2f}s  down {down:6.2f}s  total {up + down:6.2f}s")
            ratio = sum(medians["squall"]) / sum(medians["stack"])
            print(f"ratio squall / docker stack: {ratio:.2f} (goal <= 1.0)")
            if args.fault_services <= 0:
                return
            faults = folder / "faults"
            faults.mkdir()
            # NET_ADMIN only for the baseline, whose iptables runs inside the containers.
            fault_file = squall_file(
                faults, engines, args.fault_services, DEBIAN, ", cap_add: [NET_ADMIN]"
            )
            fault_rounds(fault_file, env, args.fault_services, args.rounds)
    finally:
        engines.stop()


if __name__ == "__main__":
    main()
