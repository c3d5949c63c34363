"""Finding, starting and stopping a cluster's chaos run from outside it.

One run per cluster; its pid is in the state directory (checked against /proc before
any signal, since pidfiles outlive processes). A detached run is `python -m
squall.chaos` with the request as JSON: the library never builds the CLI's flags.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

import squall.detach as detach
from squall.atomic import write_atomic
from squall.errors import ChaosError, ChaosRunning
from squall.linux import procs

PID_FILE: Final = "chaos.pid"
LOG_FILE: Final = "chaos.log"
ROUND_FILE: Final = "chaos-round"
"""Present while a round's faults are in force (Blockade's DEGRADED)."""
MODULE: Final = "squall.chaos"


def _is_chaos(argv: Sequence[str]) -> bool:
    """A detached run (`python -m squall.chaos`) or `squall chaos` in a terminal."""
    return MODULE in argv or (any("squall" in a for a in argv) and "chaos" in argv)


@contextlib.contextmanager
def pidfile(state_dir: Path) -> Iterator[None]:
    """One chaos run per cluster; `squall chaos stop` finds it here.

    Raises:
        ChaosRunning: another run holds the pidfile.
    """
    path = state_dir / PID_FILE
    running = running_chaos(state_dir)
    if running is not None:
        raise ChaosRunning(f"a chaos run is going on this cluster already (pid {running})")
    write_atomic(path, f"{os.getpid()}\n")
    try:
        yield
    finally:
        if procs.read_pid(path) == os.getpid():
            path.unlink(missing_ok=True)


def running_chaos(state_dir: Path) -> int | None:
    """The pid of the cluster's chaos run, or None."""
    return detach.running(state_dir / PID_FILE, _is_chaos)


def stop_chaos(state_dir: Path, wait: float = 120.0) -> int | None:
    """Ask the cluster's chaos run to stop (it heals first); wait for it to exit.

    Returns its pid, or None when no run is going.

    Raises:
        ChaosError: it did not exit within `wait` seconds.
    """
    pid = running_chaos(state_dir)
    if pid is None:
        return None
    if not detach.stop(pid, wait, kill_after=None):
        raise ChaosError(f"chaos run {pid} did not stop within {wait:g}s")
    return pid


def mark_round(state_dir: Path, in_force: bool) -> None:
    """Say whether a round's faults are in force (the runner calls this)."""
    path = state_dir / ROUND_FILE
    if in_force:
        write_atomic(path, f"{os.getpid()}\n")
    else:
        path.unlink(missing_ok=True)


def in_round(state_dir: Path) -> bool:
    """True while a round of the running chaos run holds its faults."""
    running = running_chaos(state_dir)
    return running is not None and procs.read_pid(state_dir / ROUND_FILE) == running


@dataclasses.dataclass(frozen=True)
class DetachedRun:
    """What a detached run needs to find its cluster again, and what to run."""

    files: list[str]
    """The cluster's files in merge order, with the project directory and profiles
    they were loaded with, so the run loads the same cluster."""
    project_directory: str
    profiles: list[str]
    project: str
    backend: str
    state_root: str
    request: dict[str, object]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> DetachedRun:
        return cls(**json.loads(text))


def start_detached(state_dir: Path, run: DetachedRun) -> int:
    """Start a chaos run for the cluster in its own session; its pid.

    The run outlives the caller (CLI `--detach`, the HTTP API); `stop_chaos` ends it.

    Raises:
        ChaosError: a run is already going, or the new one exited at once.
    """
    running = running_chaos(state_dir)
    if running is not None:
        raise ChaosRunning(f"a chaos run is going on this cluster already (pid {running})")
    argv = [sys.executable, "-m", MODULE, "--run", run.to_json()]
    try:
        proc = detach.start_detached(argv, state_dir / LOG_FILE)
    except OSError as exc:
        raise ChaosError(f"cannot start the chaos run: {exc}") from exc
    deadline = time.monotonic() + 10
    while running_chaos(state_dir) != proc.pid:
        if proc.poll() is not None:
            raise ChaosError(f"the chaos run exited at once; see {state_dir / LOG_FILE}")
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return proc.pid


__all__ = [
    "LOG_FILE",
    "PID_FILE",
    "ROUND_FILE",
    "DetachedRun",
    "in_round",
    "mark_round",
    "pidfile",
    "running_chaos",
    "start_detached",
    "stop_chaos",
]
