"""What every route needs: the clusters it serves, operations on one, a thread to run them.

A server serves the cluster it was started for (`-f FILE -p NAME`, as the CLI finds
it) or, with `squall serve --every-cluster`, every cluster in its state root, as
Blockade's daemon served every blockade; a cluster created through
`POST /blockade/NAME` with a body is served from the file kept in its state
directory. Operations block (the engine, the kernel, the cluster's lock), so they run
in worker threads; the lock in the state directory serialises changes with the CLI's.
A cluster file is read again for every request, as each CLI command reads it, so the
server and the CLI always agree on presets, holy services and the like.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypeVar

import anyio
import anyio.to_thread

from squall import events
from squall.atomic import write_atomic
from squall.errors import ServiceNotFound, UsageError
from squall.ops.opening import Where, open_session, resolve_cluster, store_file, stored_file
from squall.ops.operations import Operations
from squall.runtime.base import Backend
from squall.session import ClusterRef
from squall.spec.project import normalise_project_name
from squall.state import default_state_root

T = TypeVar("T")
WORKER_THREADS = 4
NAME_FILE: Final = "blockade-name"
"""The name a cluster was created under through Blockade's route, as its client wrote it
(`tmpRestTests12`); the project is its normalised form (`tmpresttests12`)."""
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class ClusterNotServed(ServiceNotFound):
    """A route named a cluster this server does not serve (404)."""


class InvalidClusterName(UsageError):
    """A route's name has characters no cluster name may have (400)."""


class ClusterExists(UsageError):
    """`POST /blockade/NAME` with a body for a cluster that exists already (400)."""


@dataclass
class ApiContext:
    """The served clusters, found as the CLI finds them: `-f FILE`, `-p NAME`, the folder.

    Args:
        where: the cluster as `squall serve` was told it (its project resolved); with
            `every_cluster`, its project may be None (a server for all of them).
        backend: one backend for every request (the server closes it).
        every_cluster: also serve every cluster found in the state root.
    """

    where: Where
    backend: Backend
    every_cluster: bool = False
    limiter: anyio.CapacityLimiter = field(
        default_factory=lambda: anyio.CapacityLimiter(WORKER_THREADS)
    )

    @property
    def project(self) -> str | None:
        """The cluster named at start (None: a server for every cluster only)."""
        return self.where.project

    @property
    def state_root(self) -> Path:
        return self.where.state_root or default_state_root()

    def names(self) -> list[str]:
        """The clusters served, by the names their clients use."""
        projects = set(self._found()) if self.every_cluster else set()
        if self.project is not None:
            projects.add(self.project)
        return sorted(self._name_of(p) for p in projects)

    def _found(self) -> list[str]:
        """Projects with a state directory that saw a change (or holds a stored file)."""
        try:
            entries = list(self.state_root.iterdir())
        except OSError:
            return []
        return [
            d.name
            for d in entries
            if d.is_dir()
            and _NAME.fullmatch(d.name)
            and ((d / events.EVENTS_FILE).exists() or stored_file(self.state_root, d.name).exists())
        ]

    def _name_of(self, project: str) -> str:
        try:
            return (self.state_root / project / NAME_FILE).read_text().strip() or project
        except OSError:
            return project

    def project_of(self, name: str) -> str:
        """The project a route's name stands for (`tmpRestTests12` -> `tmpresttests12`).

        Raises:
            InvalidClusterName: the name has characters no cluster name may have.
        """
        project = normalise_project_name(name)
        if not _NAME.fullmatch(name) or not project:
            raise InvalidClusterName(
                f"{name!r} is not a valid cluster name: use letters, digits, . _ -"
            )
        return project

    def where_for(self, name: str) -> Where:
        """Where the cluster `name` is found: its stored file, the served one, its label.

        Raises:
            ClusterNotServed: this server does not serve `name`.
        """
        try:
            project = self.project_of(name)
        except InvalidClusterName:
            raise self._not_served(name) from None
        stored = stored_file(self.state_root, project)
        base = dataclasses.replace(self.where, state_root=self.state_root)
        if stored.is_file():
            return Where(files=(stored,), project=project, state_root=self.state_root)
        if project == self.project:
            return base
        if self.every_cluster and project in self._found():
            return Where(project=project, state_root=self.state_root, search=False)
        raise self._not_served(name)

    def _not_served(self, name: str) -> ClusterNotServed:
        if self.every_cluster:
            served = ", ".join(self.names()) or "none yet"
            return ClusterNotServed(
                f"no cluster {name!r} here; this server serves every cluster in"
                f" {self.state_root} ({served})"
            )
        return ClusterNotServed(f"no cluster {name!r} here; this server serves {self.project!r}")

    def cluster(self, name: str) -> ClusterRef:
        return resolve_cluster(self.where_for(name), need_file=False)

    def ops(self, name: str) -> Operations:
        """Operations on the served cluster `name`.

        Raises:
            ClusterNotServed: `name` is not served here.
        """
        session = open_session(
            self.where_for(name), backend=self.backend, actor=events.Actor(who="api")
        )
        return Operations(session)

    def create(self, name: str, text: bytes) -> Operations:
        """Keep `text` as the file of a new cluster `name`; operations on it.

        Raises:
            InvalidClusterName: the name is not valid.
            ClusterNotServed: a one-cluster server was asked for another one.
            ClusterExists: the cluster has a stored file or containers already.
            SpecError: `text` is not a cluster file.
        """
        project = self.project_of(name)
        if not self.every_cluster and project != self.project:
            raise self._not_served(name)
        if stored_file(self.state_root, project).exists() or self.backend.status(project):
            raise ClusterExists(f"cluster {name!r} exists already; DELETE it first")
        store_file(self.state_root, project, text, self.where.environ)
        if name != project:
            write_atomic(self.state_root / project / NAME_FILE, name + "\n")
        return self.ops(name)

    def check_name(self, name: str) -> None:
        self.where_for(name)

    def state_dir(self, name: str) -> Path:
        return self.state_root / self.project_of(name)

    async def run(self, call: Callable[[], T]) -> T:
        """Run a blocking call (an operation) in a worker thread."""
        return await anyio.to_thread.run_sync(call, limiter=self.limiter)


def reads_kernel() -> bool:
    """Status checks the kernel (drift) when it may, as `squall status` does: as root."""
    return os.geteuid() == 0


__all__ = [
    "ApiContext",
    "ClusterExists",
    "ClusterNotServed",
    "InvalidClusterName",
    "reads_kernel",
]
