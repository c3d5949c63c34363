"""What every route needs: the cluster it serves, operations on it, a thread to run them.

Operations block (the engine, the kernel, the cluster's lock), so they run in worker
threads; the lock in the state directory serialises changes with the CLI's. The
cluster file is read again for every request, as each CLI command reads it, so the
server and the CLI always agree on presets, holy services and the like.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from squall import events
from squall.errors import ServiceNotFound
from squall.ops.opening import Where, open_session, resolve_cluster
from squall.ops.operations import Operations
from squall.runtime.base import Backend
from squall.session import ClusterRef
from squall.state import default_state_root

T = TypeVar("T")
WORKER_THREADS = 4


class ClusterNotServed(ServiceNotFound):
    """A route named another cluster than the one this server serves (404)."""


@dataclass
class ApiContext:
    """The served cluster, found as the CLI finds it: `-f FILE`, `-p NAME`, the folder.

    Args:
        where: the cluster as `squall serve` was told it (its project resolved).
        backend: one backend for every request (the server closes it).
    """

    where: Where
    backend: Backend
    limiter: anyio.CapacityLimiter = field(
        default_factory=lambda: anyio.CapacityLimiter(WORKER_THREADS)
    )

    @property
    def project(self) -> str:
        assert self.where.project is not None, "the served cluster has a name"
        return self.where.project

    @property
    def state_root(self) -> Path:
        return self.where.state_root or default_state_root()

    def cluster(self) -> ClusterRef:
        return resolve_cluster(self.where, need_file=False)

    def ops(self, name: str | None = None) -> Operations:
        """Operations on the served cluster; `name` (from the route) must be its name.

        Raises:
            ClusterNotServed: `name` is another cluster.
        """
        self.check_name(name)
        where = dataclasses.replace(self.where, state_root=self.state_root)
        session = open_session(where, backend=self.backend, actor=events.Actor(who="api"))
        return Operations(session)

    def check_name(self, name: str | None) -> None:
        if name is not None and name != self.project:
            raise ClusterNotServed(f"no cluster {name!r} here; this server serves {self.project!r}")

    def state_dir(self) -> Path:
        return self.state_root / self.project

    async def run(self, call: Callable[[], T]) -> T:
        """Run a blocking call (an operation) in a worker thread."""
        return await anyio.to_thread.run_sync(call, limiter=self.limiter)


def reads_kernel() -> bool:
    """Status checks the kernel (drift) when it may, as `squall status` does: as root."""
    return os.geteuid() == 0


__all__ = ["ApiContext", "ClusterNotServed", "reads_kernel"]
