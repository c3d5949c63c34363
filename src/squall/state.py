"""Where a cluster's desired state lives, and the lock that serialises commands on it.

One directory per project (`$SQUALL_STATE_DIR/<project>`, default
`$XDG_STATE_HOME/squall/<project>` or `~/.local/state/squall/<project>`). The engine and
the kernel remain the truth for what exists; this directory holds what only Squall
knows (desired faults, events) and the lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from squall.errors import ClusterBusy, StateError

LOCK_WAIT_SECONDS = 10.0


def default_state_root(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("SQUALL_STATE_DIR"):
        return Path(env["SQUALL_STATE_DIR"])
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "squall"


@dataclass(frozen=True)
class StateDir:
    """The state directory of one project. Constructing it touches nothing on disk."""

    root: Path
    project: str

    @property
    def path(self) -> Path:
        return self.root / self.project

    def ensure(self) -> Path:
        try:
            self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StateError(f"cannot create state directory {self.path}: {exc.strerror}") from exc
        return self.path

    def remove(self) -> None:
        """Forget everything about the project (after `down`)."""
        shutil.rmtree(self.path, ignore_errors=True)

    @contextlib.contextmanager
    def locked(self, command: str, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
        """Hold the project's lock; wait up to `wait` seconds, then name the holder."""
        lock_path = self.ensure() / "lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise StateError(f"cannot lock {lock_path}: {exc.strerror}") from exc
                    if time.monotonic() >= deadline:
                        raise ClusterBusy(
                            f"cluster {self.project!r} is busy: {_describe_holder(lock_path)}"
                            f" holds {lock_path}; try again when it finishes"
                        ) from None
                    time.sleep(0.05)
            holder = {"pid": os.getpid(), "command": command, "since": time.time()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
            yield
        finally:
            os.close(fd)


def _describe_holder(lock_path: Path) -> str:
    try:
        holder = json.loads(lock_path.read_text() or "{}")
    except (OSError, ValueError):
        return "another squall command"
    if not isinstance(holder, dict) or "pid" not in holder:
        return "another squall command"
    return f"pid {holder['pid']} (squall {holder.get('command', '?')})"
