"""What /proc says about processes: their command line, whether they are zombies, which
network namespace they live in. Pidfiles outlive processes and pids get reused, so
these are the checks that come before any signal.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path


def command_line(pid: int) -> list[str]:
    """The argv of `pid`, or [] if it is gone or a zombie."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def in_container(container_id: str, pid: int | None, proc: Path = Path("/proc")) -> bool:
    """True when process `pid` of this kernel belongs to container `container_id`.

    An engine on another machine may report a pid that exists here too, for another
    process: only this machine's `/proc/<pid>/cgroup` naming that very container's id
    proves that the engine runs on this kernel, and so that its namespace may be entered
    directly.
    """
    if not pid or len(container_id) < 12:
        return False
    try:
        text = (proc / str(pid) / "cgroup").read_text()
    except OSError:
        return False
    return container_id in text


def is_zombie(pid: int) -> bool:
    """True for a zombie, and for a pid that is gone altogether."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].startswith(("Z", "X"))


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def signal_all(pids: Sequence[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def netns_inode(path: str) -> int | None:
    """The inode of a network namespace file (`/run/netns/X`, `/proc/PID/ns/net`)."""
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def pids_in(inodes: Mapping[int, str]) -> dict[str, list[int]]:
    """Processes whose network namespace is one of `inodes` (inode -> key), by key.

    This is how processes are found without any record: a service's processes are
    exactly those living in its namespace, whatever they did to their process group.
    """
    found: dict[str, list[int]] = {}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            ino = os.stat(f"/proc/{entry}/ns/net").st_ino
        except OSError:
            continue
        key = inodes.get(ino)
        if key is not None:
            found.setdefault(key, []).append(int(entry))
    return found


def all_pids() -> list[int]:
    """Every pid /proc lists now."""
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


__all__ = [
    "all_pids",
    "command_line",
    "is_zombie",
    "netns_inode",
    "pids_in",
    "read_pid",
    "signal_all",
]
