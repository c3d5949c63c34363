"""`squall up` + `squall down` against `docker-compose up -d` + `down`, side by side.

Both tools run the same generated compose files (N idle busybox services on one
network) in the same run, alternating, and the script prints the median wall time of
each and the ratio squall / docker-compose (goal: <= 1.0).

    python3 benchmarks/up_down.py [--sizes 3,10,30] [--rounds 3]

Needs the Docker Engine, `docker-compose`, and `squall images build` done.
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


def measure(tool: str, file: Path, project: str, env: dict[str, str]) -> float:
    if tool == "squall":
        base = [sys.executable, "-m", "squall", "-f", str(file), "-p", project]
        up, down = [*base, "up"], [*base, "down"]
    else:
        base = ["docker-compose", "-f", str(file), "-p", project]
        up, down = [*base, "up", "-d"], [*base, "down"]
    return timed(up, file.parent, env) + timed(down, file.parent, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3,10,30")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("docker-compose") is None:
        sys.exit("docker-compose is not installed: nothing to compare against")
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="squall-bench-") as tmp:
        env = {**os.environ, "SQUALL_STATE_DIR": str(Path(tmp) / "state")}
        print(
            f"{'services':>8} {'squall s':>10} {'compose s':>10} {'ratio':>7}"
            f"   (medians of {args.rounds})"
        )
        for size in sizes:
            directory = Path(tmp) / f"n{size}"
            directory.mkdir()
            file = compose_file(directory, size)
            times: dict[str, list[float]] = {"squall": [], "compose": []}
            for round_no in range(args.rounds):
                for tool in ("squall", "compose") if round_no % 2 == 0 else ("compose", "squall"):
                    times[tool].append(measure(tool, file, f"bench{tool}{size}", env))
            squall_s = statistics.median(times["squall"])
            compose_s = statistics.median(times["compose"])
            print(f"{size:>8} {squall_s:>10.2f} {compose_s:>10.2f} {squall_s / compose_s:>7.2f}")


if __name__ == "__main__":
    main()
