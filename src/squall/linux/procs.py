"""Is that pid our shaper? Pidfiles outlive processes and pids get reused.

A pid is taken as the shaper of a state directory only if its command line runs
`squall.faults.shaper` with that very pidfile, and it is not a zombie.
"""

from __future__ import annotations

import os
from pathlib import Path

MODULE = "squall.faults.shaper"


def command_line(pid: int) -> list[str]:
    """The argv of `pid`, or [] if it is gone or a zombie."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].startswith(("Z", "X"))


def is_shaper(pid: int, pidfile: Path) -> bool:
    argv = command_line(pid)
    if MODULE not in argv or is_zombie(pid):
        return False
    try:
        given = argv[argv.index("--pidfile") + 1]
    except (ValueError, IndexError):
        return False
    return os.path.abspath(given) == os.path.abspath(pidfile)


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def running_shaper(pidfile: Path) -> int | None:
    """The pid of the live shaper that owns `pidfile`, if there is one."""
    pid = read_pid(pidfile)
    if pid is not None and is_shaper(pid, pidfile):
        return pid
    return None


__all__ = ["MODULE", "command_line", "is_shaper", "is_zombie", "read_pid", "running_shaper"]
