"""`--duration`: a detached process that heals expired shapes even if the CLI is gone.

One timer per cluster, for the earliest expiry; it takes the cluster's lock like any
command, drops what has expired, re-applies, and schedules the next one. Its pidfile
lives in the state directory and is checked against /proc before any signal. This
module starts and cancels timers; the timer itself is `python -m squall.expiry`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

from squall.detach import start_detached
from squall.linux.procs import command_line, is_zombie, read_pid

MODULE = "squall.expiry"
PID_FILE = "expiry.pid"


def _running_timer(pidfile: Path) -> int | None:
    pid = read_pid(pidfile)
    if pid is None or pid == os.getpid() or is_zombie(pid):
        return None
    argv = command_line(pid)
    if MODULE in argv and str(pidfile) in argv:
        return pid
    return None


def cancel(state_dir: Path) -> None:
    pidfile = state_dir / PID_FILE
    pid = _running_timer(pidfile)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    if read_pid(pidfile) != os.getpid():
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
    proc = start_detached(argv, state_dir / "expiry.log")
    pidfile.write_text(f"{proc.pid}\n")
