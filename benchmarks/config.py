"""`squall config -q` against `docker-compose config -q` over the awesome-compose files.

Both tools check the same files in the same run, alternating, each file once per
round; the script prints the median wall time per file of each tool and the ratio
squall / docker-compose (goal: <= 0.5). It also prints what start-up alone costs
(`python3 -c pass`, importing the CLI) and the median time of the loading itself in
this process (load_project + render), so a miss can be told apart from start-up.

    python3 benchmarks/config.py [--rounds 3] [--corpus PATH]

docker-compose 1.29 refuses a file whose build contexts are absent (the corpus holds
only compose files), so it runs with a scratch project directory holding those
folders; Squall reads the files where they lie. Files docker-compose refuses anyway
are left out of both.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from tests.unit.spec.compose_fields import scratch_project  # noqa: E402

from squall.spec.files import CLUSTER_FILE_NAMES  # noqa: E402
from squall.spec.loader import ProjectRequest, load_project  # noqa: E402
from squall.spec.render import render, to_json  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "awesome-compose"


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    compose = shutil.which("docker-compose")
    if compose is None:
        sys.exit("docker-compose is not installed (scripts/install.sh installs it)")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    files = sorted(p for p in args.corpus.glob("*/*") if p.name in CLUSTER_FILE_NAMES)
    squall = [sys.executable, "-m", "squall"]
    with tempfile.TemporaryDirectory() as root:
        folders = {path: scratch_project(path, Path(root), os.environ) for path in files}

        def theirs(path: Path) -> list[str]:
            return [
                compose,
                "--project-directory",
                str(folders[path]),
                "-f",
                str(path),
                "config",
                "-q",
            ]

        accepted = [
            p
            for p in files
            if subprocess.run(theirs(p), env=env, capture_output=True, check=False).returncode == 0
        ]
        times: dict[str, list[float]] = {"squall": [], "docker-compose": []}
        for _ in range(args.rounds):
            for path in accepted:
                times["squall"].append(
                    timed([*squall, "-f", str(path), "config", "-q"], path.parent, env)
                )
                times["docker-compose"].append(timed(theirs(path), folders[path], env))
    python = statistics.median(timed([sys.executable, "-c", "pass"], REPO, env) for _ in range(5))
    cli = statistics.median(
        timed([sys.executable, "-c", "import squall.cli.main"], REPO, env) for _ in range(5)
    )
    in_process = []
    for path in accepted:
        started = time.perf_counter()
        to_json(render(load_project(ProjectRequest(files=(path,), cwd=path.parent))))
        in_process.append(time.perf_counter() - started)
    ours, baseline = statistics.median(times["squall"]), statistics.median(times["docker-compose"])
    print(f"files: {len(accepted)} of {len(files)} (docker-compose accepts), rounds: {args.rounds}")
    print(f"docker-compose config -q  median {baseline * 1000:7.1f} ms per file")
    print(f"squall config -q          median {ours * 1000:7.1f} ms per file")
    print(f"ratio squall / docker-compose: {ours / baseline:.2f} (goal <= 0.5)")
    print(
        f"  start-up: python3 -c pass {python * 1000:.1f} ms,"
        f" import squall.cli.main {cli * 1000:.1f} ms"
    )
    print(
        f"  loading + rendering in process: median {statistics.median(in_process) * 1000:.2f} ms"
        f" per file"
    )


if __name__ == "__main__":
    main()
