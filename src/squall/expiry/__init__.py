"""`--duration`: a detached process that heals expired shapes even if the CLI is gone.

One timer per cluster, for the earliest expiry; it takes the cluster's lock like any
command, drops what has expired, re-applies, and schedules the next one. Its pidfile
lives in the state directory and is checked against /proc before any signal. This
module starts and cancels timers; the timer itself is `python -m squall.expiry`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import squall.detach as detach
from squall.atomic import write_atomic
from squall.linux import procs

MODULE = "squall.expiry"
PID_FILE = "expiry.pid"
STOP_WAIT = 2.0
"""A waiting timer exits at once on SIGTERM."""


def _marker(pidfile: Path) -> detach.Marker:
    return detach.Marker(MODULE, "--pidfile", str(pidfile))


def cancel(state_dir: Path) -> None:
    """Stop the cluster's timer, if one is waiting (a timer never cancels itself)."""
    pidfile = state_dir / PID_FILE
    pid = detach.running(pidfile, _marker(pidfile))
    if pid is not None:
        detach.stop(pid, STOP_WAIT)
    if procs.read_pid(pidfile) != os.getpid():
        pidfile.unlink(missing_ok=True)


def schedule(state_root: Path, project: str, backend: str, at: float | None) -> None:
    """Replace the cluster's timer with one for `at` (Unix time); None: no timer."""
    state_dir = state_root / project
    cancel(state_dir)
    if at is None:
        return
    pidfile = state_dir / PID_FILE
    argv = [
        sys.executable,
        "-m",
        MODULE,
        "--state-root",
        str(state_root),
        "--project",
        project,
        "--backend",
        backend,
        "--at",
        repr(at),
        "--pidfile",
        str(pidfile),
    ]
    proc = detach.start_detached(argv, state_dir / "expiry.log")
    write_atomic(pidfile, f"{proc.pid}\n")
