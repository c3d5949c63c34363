"""What every route needs: the cluster it serves, a session on it, a thread to run it in.

Session calls block (the engine, the kernel, the cluster's lock), so they run in
worker threads; the lock in the state directory serialises changes with the CLI's.
The cluster file is read again for every request, as each CLI command reads it, so
the server and the CLI always agree on presets, holy services and the like.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from squall import events
from squall.errors import ServiceNotFound
from squall.runtime.base import Backend
from squall.session import ClusterRef, Session, resolve_cluster

T = TypeVar("T")
WORKER_THREADS = 4


class ClusterNotServed(ServiceNotFound):
    """A route named another cluster than the one this server serves (404)."""


@dataclass
class ApiContext:
    """The served cluster, found as the CLI finds it: `-f FILE`, `-p NAME`, the folder."""

    project: str
    file: Path | None
    cwd: Path
    backend: Backend
    state_root: Path
    limiter: anyio.CapacityLimiter = field(
        default_factory=lambda: anyio.CapacityLimiter(WORKER_THREADS)
    )

    def cluster(self) -> ClusterRef:
        return resolve_cluster(self.file, self.project, self.cwd, need_file=False)

    def session(self, name: str | None = None) -> Session:
        """A session on the served cluster; `name` (from the route) must be its name.

        Raises:
            ClusterNotServed: `name` is another cluster.
        """
        self.check_name(name)
        return Session.create(
            self.cluster(),
            self.backend,
            state_root=self.state_root,
            actor=events.Actor(who="api"),
        )

    def check_name(self, name: str | None) -> None:
        if name is not None and name != self.project:
            raise ClusterNotServed(f"no cluster {name!r} here; this server serves {self.project!r}")

    def state_dir(self) -> Path:
        return self.state_root / self.project

    async def run(self, call: Callable[[], T]) -> T:
        """Run a blocking call (a session method) in a worker thread."""
        return await anyio.to_thread.run_sync(call, limiter=self.limiter)


def reads_kernel() -> bool:
    """Status checks the kernel (drift) when it may, as `squall status` does: as root."""
    return os.geteuid() == 0


__all__ = ["ApiContext", "ClusterNotServed", "reads_kernel"]
