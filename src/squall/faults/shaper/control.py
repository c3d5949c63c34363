"""Start, reconfigure, inspect and stop a cluster's shaper from the rest of Squall.

The shaper is a detached process (its own session), so it outlives the CLI command
that started it. Everything about it lives in the cluster's state directory:
`shaper.json` (the config, written atomically), `shaper.pid`, `shaper.status.json`
(what it applied, what it serves, counters) and `shaper.log`. A pid is only signalled
after /proc shows it really is the shaper of this state directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import squall.detach as detach
from squall.errors import ShaperError
from squall.faults.shaper.status import (
    DaemonReport,
    Failure,
    NamespaceReport,
    config_hash,
)
from squall.faults.shaper_config import ShaperConfig

CONFIG_FILE = "shaper.json"
PID_FILE = "shaper.pid"
STATUS_FILE = "shaper.status.json"
LOG_FILE = "shaper.log"

MODULE = "squall.faults.shaper"
APPLY_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
_POLL = 0.02


@dataclass(frozen=True)
class ShaperStatus:
    """What `status` shows about the shaper; `running` False means traffic goes unshaped."""

    running: bool
    pid: int | None
    applied_hash: str | None = None
    namespaces: tuple[NamespaceReport, ...] = ()
    failures: tuple[Failure, ...] = ()
    counters: dict[str, int] = field(default_factory=dict)


def _marker(pidfile: Path) -> detach.Marker:
    """The shaper of a state directory runs `MODULE` with that very pidfile."""
    return detach.Marker(MODULE, "--pidfile", os.path.abspath(pidfile))


def running_shaper(pidfile: Path) -> int | None:
    """The pid of the live shaper that owns `pidfile`, if there is one."""
    return detach.running(pidfile, _marker(pidfile))


def _paths(state_dir: Path) -> tuple[Path, Path, Path, Path]:
    base = state_dir.absolute()
    return base / CONFIG_FILE, base / PID_FILE, base / STATUS_FILE, base / LOG_FILE


def ensure_shaper(state_dir: Path, config: ShaperConfig, *, timeout: float = APPLY_TIMEOUT) -> int:
    """Make the state directory's shaper run `config`; return its pid.

    Writes the config, then starts the shaper (detached) if none runs, else tells the
    running one to reload (SIGHUP). Returns once the shaper reports this config applied.

    Raises:
        ShaperError: the shaper died, did not apply the config within `timeout`, or
            could not serve some namespace or queue (then `failures` says which; the
            shaper keeps serving the rest).
    """
    config_path, pidfile, status_path, log_path = _paths(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    config.write(config_path)
    wanted = config_hash(config_path.read_bytes())
    pid = running_shaper(pidfile)
    child: subprocess.Popen[bytes] | None = None
    applied_before = 0
    if pid is None:
        child = _start(config_path, pidfile, status_path, log_path)
        pid = child.pid
    else:
        previous = DaemonReport.read(status_path)
        applied_before = previous.applies if previous and previous.pid == pid else 0
        os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while True:
        report = DaemonReport.read(status_path)
        if (
            report is not None
            and report.pid == pid
            and report.applied_hash == wanted
            and report.applies > applied_before
        ):
            if report.failures:
                listed = "; ".join(str(f) for f in report.failures)
                raise ShaperError(f"shaper {pid} could not serve: {listed}", report.failures)
            return pid
        if child.poll() is not None if child else not detach.is_ours(pid, _marker(pidfile)):
            raise ShaperError(
                f"shaper {pid} exited before applying its config" + detach.log_tail(log_path)
            )
        if time.monotonic() > deadline:
            raise ShaperError(
                f"shaper {pid} did not apply its config within {timeout:g}s"
                + detach.log_tail(log_path)
            )
        time.sleep(_POLL)


def _start(
    config_path: Path, pidfile: Path, status_path: Path, log_path: Path
) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        "-m",
        MODULE,
        "--config",
        str(config_path),
        "--pidfile",
        os.path.abspath(pidfile),
        "--status",
        str(status_path),
        "--log",
        str(log_path),
    ]
    with contextlib.suppress(FileNotFoundError):
        status_path.unlink()  # a stale report must not look like this start's
    try:
        return detach.start_detached(argv, log_path, cwd="/")
    except OSError as exc:
        raise ShaperError(f"cannot start the shaper: {exc}") from exc


def shaper_status(state_dir: Path) -> ShaperStatus:
    """Whether the shaper runs, what it applied and serves, and its packet counters."""
    _config, pidfile, status_path, _log = _paths(state_dir)
    pid = running_shaper(pidfile)
    if pid is None:
        return ShaperStatus(running=False, pid=None)
    report = DaemonReport.read(status_path)
    if report is None or report.pid != pid:
        return ShaperStatus(running=True, pid=pid)
    return ShaperStatus(
        running=True,
        pid=pid,
        applied_hash=report.applied_hash,
        namespaces=report.namespaces,
        failures=report.failures,
        counters=report.totals(),
    )


def stop_shaper(state_dir: Path, *, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the shaper (SIGTERM, SIGKILL after `timeout`); True if one was running.

    Held packets go out at once on SIGTERM; after SIGKILL the queue rules' bypass lets
    traffic through unshaped. The pidfile is gone afterwards either way.
    """
    _config, pidfile, status_path, _log = _paths(state_dir)
    pid = running_shaper(pidfile)
    if pid is None:
        with contextlib.suppress(FileNotFoundError):
            pidfile.unlink()
        return False
    detach.stop(pid, timeout, kill_after=timeout)
    for path in (pidfile, status_path):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return True


__all__ = [
    "CONFIG_FILE",
    "LOG_FILE",
    "MODULE",
    "PID_FILE",
    "STATUS_FILE",
    "ShaperError",
    "ShaperStatus",
    "ensure_shaper",
    "running_shaper",
    "shaper_status",
    "stop_shaper",
]
