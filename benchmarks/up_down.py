"""`squall up` + `squall down` on both backends against `docker-compose up -d` + `down`.

All tools run the same generated compose files (N idle services on one network; the
netns backend ignores the image and runs the idle shell loop on the host) in the same
run, alternating, and the script prints the median wall times of `up` and `down` for
each, and the ratio squall (docker) / docker-compose (goal: <= 1.0). The netns backend
runs the larger sizes too (goal: 50 services up in under 1 s).

    python3 benchmarks/up_down.py [--sizes 3,10,30] [--netns-sizes 3,10,50,200] [--rounds 3]
    python3 benchmarks/up_down.py --tools netns --netns-sizes 50,200   # netns only

The Docker tools need the Docker Engine, `docker-compose`, and `squall images build`
done; the netns backend needs root.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMAGE = "squall/busybox:latest"
IDLE = '["sh", "-c", "trap \'exit 0\' TERM; while true; do sleep 1; done"]'
TOOLS = ("docker", "compose", "netns")


def compose_file(directory: Path, services: int) -> Path:
    lines = ["services:"]
    for i in range(services):
        lines += [f"  s{i}:", f"    image: {IMAGE}", f"    command: {IDLE}"]
    path = directory / "compose.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return time.perf_counter() - started


def measure(tool: str, file: Path, project: str, env: dict[str, str]) -> tuple[float, float]:
    """(up seconds, down seconds) of one round."""
    if tool in ("docker", "netns"):
        base = [sys.executable, "-m", "squall", "--backend", tool, "-f", str(file), "-p", project]
        up, down = [*base, "up"], [*base, "down"]
    else:
        base = ["docker-compose", "-f", str(file), "-p", project]
        up, down = [*base, "up", "-d"], [*base, "down"]
    return timed(up, file.parent, env), timed(down, file.parent, env)


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values):>8.2f}" if values else f"{'-':>8}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="3,10,30", help="sizes for docker and compose")
    parser.add_argument("--netns-sizes", default="3,10,50,200", help="sizes for netns")
    parser.add_argument("--tools", default=",".join(TOOLS), help="docker,compose,netns")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        sys.exit(f"unknown tool(s): {', '.join(sorted(unknown))}")
    if "compose" in tools and shutil.which("docker-compose") is None:
        sys.exit("docker-compose is not installed: nothing to compare against")
    if "netns" in tools and os.geteuid() != 0:
        sys.exit("the netns backend needs root")
    docker_sizes = {int(s) for s in args.sizes.split(",") if s}
    netns_sizes = {int(s) for s in args.netns_sizes.split(",") if s}
    with tempfile.TemporaryDirectory(prefix="squall-bench-") as tmp:
        env = {**os.environ, "SQUALL_STATE_DIR": str(Path(tmp) / "state")}
        print(f"medians of {args.rounds} rounds, seconds; ratio = squall docker / docker-compose")
        print(
            f"{'services':>8} | {'docker up':>9} {'down':>8} | {'compose up':>10} {'down':>8}"
            f" | {'ratio':>5} | {'netns up':>8} {'down':>8}"
        )
        for size in sorted(docker_sizes | netns_sizes):
            directory = Path(tmp) / f"n{size}"
            directory.mkdir()
            file = compose_file(directory, size)
            chosen = [
                t
                for t in tools
                if (t == "netns" and size in netns_sizes) or (t != "netns" and size in docker_sizes)
            ]
            ups: dict[str, list[float]] = {t: [] for t in TOOLS}
            downs: dict[str, list[float]] = {t: [] for t in TOOLS}
            for round_no in range(args.rounds):
                order = chosen if round_no % 2 == 0 else list(reversed(chosen))
                for tool in order:
                    up, down = measure(tool, file, f"bench{tool}{size}", env)
                    ups[tool].append(up)
                    downs[tool].append(down)
            ratio = "-"
            if ups["docker"] and ups["compose"]:
                squall_s = statistics.median(
                    map(sum, zip(ups["docker"], downs["docker"], strict=True))
                )
                compose_s = statistics.median(
                    map(sum, zip(ups["compose"], downs["compose"], strict=True))
                )
                ratio = f"{squall_s / compose_s:.2f}"
            print(
                f"{size:>8} | {_cell(ups['docker']):>9} {_cell(downs['docker'])} | "
                f"{_cell(ups['compose']):>10} {_cell(downs['compose'])} | {ratio:>5} | "
                f"{_cell(ups['netns'])} {_cell(downs['netns'])}",
                flush=True,
            )


if __name__ == "__main__":
    main()
