"""Processes that outlive the command which started them: start, recognise, stop.

The shaper, the netns supervisor, `--duration` timers and detached chaos runs all need
the same things. Started: in their own session (Ctrl-C on the CLI must not reach them),
no stdin, output appended to a log in the state directory, no inherited descriptors.
Recognised: a pidfile outlives its process and pids get reused, so a pid counts as one
of ours (and is only then signalled) while it is alive, not a zombie, not this very
process, and its command line is the one Squall gave it (`Marker`). Stopped: SIGTERM,
a deadline, then SIGKILL. Their log's last lines go into the errors that say they died.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from squall.linux import procs

Recognise = Callable[[Sequence[str]], bool]
"""Says, from a process's argv, whether it is the process looked for."""
POLL = 0.01


def start_detached(
    argv: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` detached, stdout and stderr appended to `log_path`.

    Raises:
        OSError: it could not be started (the caller names what it was).
    """
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )


@dataclass(frozen=True)
class Marker:
    """The command line of one of Squall's detached processes: it holds `module` as one
    argument and, when `option` is given, `option` followed by `value`
    (`python -m squall.faults.shaper ... --pidfile /state/p/shaper.pid`)."""

    module: str
    option: str | None = None
    value: str | None = None

    def __call__(self, argv: Sequence[str]) -> bool:
        if self.module not in argv:
            return False
        if self.option is None:
            return True
        try:
            return argv[list(argv).index(self.option) + 1] == self.value
        except (ValueError, IndexError):
            return False


def is_ours(pid: int, recognise: Recognise) -> bool:
    """`pid` is alive, not a zombie, not this process, and `recognise` knows its argv."""
    if pid == os.getpid() or procs.is_zombie(pid):
        return False
    return recognise(procs.command_line(pid))


def running(pidfile: Path, recognise: Recognise) -> int | None:
    """The pid `pidfile` names, if that process is ours (see `is_ours`)."""
    pid = procs.read_pid(pidfile)
    if pid is not None and is_ours(pid, recognise):
        return pid
    return None


def find(recognise: Recognise) -> list[int]:
    """Every live process of ours, from /proc alone (for when the pidfile is lost)."""
    return [pid for pid in procs.all_pids() if is_ours(pid, recognise)]


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` seconds for `pid` to exit (reaping it if it is our child);
    True once it is gone or a zombie."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if procs.is_zombie(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)


def stop(pid: int, timeout: float, *, kill_after: float | None = 2.0) -> bool:
    """SIGTERM, then wait up to `timeout`; if it is still there, SIGKILL and wait up to
    `kill_after` more (with `kill_after` None, never SIGKILL). True once it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_gone(pid, timeout):
        return True
    if kill_after is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return wait_gone(pid, kill_after)


def log_tail(path: Path, lines: int = 3) -> str:
    """`; PATH ends: a | b | c` with the log's last lines, for an error message; "" if
    there is nothing to show."""
    try:
        tail = path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return f"; {path} ends: " + " | ".join(tail) if tail else ""


__all__ = [
    "Marker",
    "Recognise",
    "find",
    "is_ours",
    "log_tail",
    "running",
    "start_detached",
    "stop",
    "wait_gone",
]
