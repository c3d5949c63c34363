"""The watcher: faults follow a service that restarts outside Squall.

A restart by `docker restart`, a `restart:` policy after a crash, the engine coming
back or the netns supervisor gives a service a new namespace (or address) without its
faults. One detached process per cluster (`python -m squall.watcher`) follows the
backend's changes (`Backend.watch`: the Engine's event stream, the supervisor's
report) and repairs the kernel within a second (`Session.repair_faults`, logged as a
`reconcile` by `watcher`). The session starts it with the first fault and again from
any later command if it died; `down` stops it; it also leaves by itself once its
cluster or state directory is gone.

Its files are in the cluster's state directory: `watcher.pid`, `watcher.json` (its
report, written atomically) and `watcher.log`. This module starts, finds and stops
it; the process itself is `squall.watcher.loop` run by `__main__`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import squall.detach as detach
from squall.atomic import write_atomic
from squall.errors import StateError

MODULE = "squall.watcher"
PID_FILE = "watcher.pid"
REPORT_FILE = "watcher.json"
LOG_FILE = "watcher.log"
STOP_WAIT = 3.0


@dataclass(frozen=True)
class WatcherReport:
    """What the watcher says of itself (`watcher.json`)."""

    pid: int
    since: float
    """Changes from this Unix time on are followed."""
    watching: bool = False
    """The backend's changes are being followed now (False while reconnecting)."""
    repairs: int = 0
    last_repair: str | None = None
    """`b (start) in 0.12s at 12:00:01`: the services repaired, why, how fast."""
    error: str | None = None
    """The last failure (a lost engine, a busy cluster), until the next success."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def read(cls, path: Path) -> WatcherReport | None:
        try:
            raw = json.loads(path.read_text())
            return cls(**{k: raw[k] for k in raw if k in cls.__dataclass_fields__})
        except (OSError, ValueError, TypeError):
            return None

    def write(self, path: Path) -> None:
        write_atomic(path, self.to_json())


@dataclass(frozen=True)
class WatcherStatus:
    """For `status`: whether faults are being kept in force across restarts."""

    running: bool
    pid: int | None = None
    report: WatcherReport | None = None


def _marker(pidfile: Path) -> detach.Marker:
    return detach.Marker(MODULE, "--pidfile", str(pidfile.absolute()))


def watcher_status(state_dir: Path) -> WatcherStatus:
    pidfile = state_dir / PID_FILE
    pid = detach.running(pidfile, _marker(pidfile))
    if pid is None:
        return WatcherStatus(running=False)
    report = WatcherReport.read(state_dir / REPORT_FILE)
    return WatcherStatus(True, pid, report if report is not None and report.pid == pid else None)


def ensure_watcher(state_root: Path, project: str, backend: str) -> int:
    """Start the cluster's watcher unless it runs; its pid. It follows changes from now
    on even while it is still starting (it asks the backend for them since this call).

    Raises:
        StateError: it could not be started.
    """
    state_dir = (state_root / project).absolute()
    pidfile = state_dir / PID_FILE
    pid = detach.running(pidfile, _marker(pidfile))
    if pid is not None:
        return pid
    argv = [
        sys.executable, "-m", MODULE,
        "--state-root", str(state_root.absolute()),
        "--project", project,
        "--backend", backend,
        "--since", repr(time.time()),
        "--pidfile", str(pidfile),
    ]  # fmt: skip
    # The netns backend finds its files under the state root it is told through this.
    env = {**os.environ, "SQUALL_STATE_DIR": str(state_root.absolute())}
    try:
        proc = detach.start_detached(argv, state_dir / LOG_FILE, env=env, cwd="/")
        write_atomic(pidfile, f"{proc.pid}\n")
    except OSError as exc:
        raise StateError(f"cannot start the watcher of {project!r}: {exc}") from exc
    return proc.pid


def claim(pidfile: Path) -> bool:
    """For the watcher itself: name this process in `pidfile` unless another live
    watcher holds it (then this one is a duplicate and should leave)."""
    holder = detach.running(pidfile, _marker(pidfile))
    if holder is not None:
        return False
    write_atomic(pidfile, f"{os.getpid()}\n")
    return True


def stop_watcher(state_dir: Path) -> bool:
    """Stop the cluster's watcher (SIGTERM, then SIGKILL); True if one was running."""
    pidfile = state_dir / PID_FILE
    pid = detach.running(pidfile, _marker(pidfile))
    if pid is not None:
        detach.stop(pid, STOP_WAIT)
    pidfile.unlink(missing_ok=True)
    return pid is not None


__all__ = [
    "LOG_FILE",
    "MODULE",
    "PID_FILE",
    "REPORT_FILE",
    "WatcherReport",
    "WatcherStatus",
    "claim",
    "ensure_watcher",
    "stop_watcher",
    "watcher_status",
]
