"""One cluster, one command at a time: load the file, take the lock, drive the backend.

The CLI (and later the HTTP API and the Python API) call this layer; it never prints.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from squall.errors import ServiceNotFound, SpecError, UsageError
from squall.runtime.base import Action, Backend, NetworkState, Progress, ServiceState
from squall.spec.loader import find_cluster_file, load_cluster
from squall.spec.model import ClusterSpec
from squall.state import StateDir, default_state_root


@dataclass(frozen=True)
class ClusterRef:
    """Which cluster a command is about: its project name and, when found, its file."""

    project: str
    spec: ClusterSpec | None


def resolve_cluster(
    file: Path | None,
    project: str | None,
    cwd: Path,
    environ: Mapping[str, str] | None = None,
    *,
    need_file: bool = True,
) -> ClusterRef:
    """Load the cluster file (given, or found in `cwd`).

    Commands that only read or remove what exists (`status`, `down`, `logs`...) can run
    with `-p NAME` alone, from any directory, because backends find their objects by
    label; for those `need_file` is False and a missing file is not an error.
    """
    if file is None:
        if project is not None and not need_file:
            try:
                file = find_cluster_file(cwd)
            except SpecError:
                return ClusterRef(project, None)
        else:
            file = find_cluster_file(cwd)
    spec = load_cluster(file, project=project, environ=environ)
    return ClusterRef(spec.name, spec)


@dataclass
class Session:
    """Commands on one cluster. Constructing it does nothing; each call locks the state."""

    cluster: ClusterRef
    backend: Backend
    state: StateDir

    @classmethod
    def create(
        cls, cluster: ClusterRef, backend: Backend, state_root: Path | None = None
    ) -> Session:
        root = state_root if state_root is not None else default_state_root()
        return cls(cluster, backend, StateDir(root, cluster.project))

    @property
    def project(self) -> str:
        return self.cluster.project

    def _spec(self, command: str) -> ClusterSpec:
        if self.cluster.spec is None:
            raise UsageError(f"squall {command} needs the cluster file; pass -f FILE")
        return self.cluster.spec

    def up(
        self, *, build: bool = False, force: bool = False, progress: Progress | None = None
    ) -> None:
        spec = self._spec("up")
        with self.state.locked("up"):
            self.backend.up(spec, build=build, force=force, progress=progress)

    def down(self, *, volumes: bool = False, progress: Progress | None = None) -> None:
        with self.state.locked("down"):
            self.backend.down(self.project, volumes=volumes, progress=progress)
        self.state.remove()

    def status(self) -> list[ServiceState]:
        """What the engine holds, plus a `missing` row for each declared service it lacks."""
        found = self.backend.status(self.project)
        seen = {s.service for s in found}
        if self.cluster.spec is not None:
            found += [
                ServiceState(service=s.name, container="", id=None, state="missing")
                for s in self.cluster.spec.services
                if s.name not in seen
            ]
        return sorted(found, key=lambda s: (s.service, s.container))

    def networks(self) -> list[NetworkState]:
        return self.backend.networks(self.project)

    def known_services(self) -> list[str]:
        if self.cluster.spec is not None:
            return list(self.cluster.spec.service_names)
        return sorted({s.service for s in self.backend.status(self.project)})

    def select_services(
        self,
        names: Sequence[str],
        *,
        all_services: bool = False,
        pick_random: bool = False,
        rng: random.Random | None = None,
    ) -> list[str]:
        """Turn `SERVICE... | --all | --random` into service names, checking each."""
        if sum((bool(names), all_services, pick_random)) != 1:
            raise UsageError("name one or more services, or pass --all or --random")
        known = self.known_services()
        if not known:
            raise ServiceNotFound(f"cluster {self.project!r} has no services; run squall up")
        if all_services:
            return known
        if pick_random:
            return [(rng or random.Random()).choice(known)]
        for name in names:
            if name not in known:
                raise ServiceNotFound(
                    f"no service {name!r} in cluster {self.project!r};"
                    f" services: {', '.join(known)}",
                    service=name,
                )
        return list(dict.fromkeys(names))

    def act(self, services: Sequence[str], action: Action, *, signal: str | None = None) -> None:
        with self.state.locked(str(action)):
            self.backend.act(self.project, services, action, signal=signal)

    def logs(
        self, service: str, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[bytes]:
        self.select_services([service])
        return self.backend.logs(self.project, service, follow=follow, tail=tail)

    def exec(self, service: str, argv: Sequence[str], *, tty: bool = False) -> int:
        self.select_services([service])
        if not argv:
            raise UsageError("squall exec needs a command: squall exec SERVICE -- CMD [ARG...]")
        return self.backend.exec(self.project, service, argv, tty=tty)

    def create_network(self, name: str, *, subnet: str | None, internal: bool) -> NetworkState:
        with self.state.locked("net create"):
            return self.backend.create_network(self.project, name, subnet=subnet, internal=internal)

    def remove_network(self, name: str) -> None:
        with self.state.locked("net rm"):
            self.backend.remove_network(self.project, name)

    def connect(self, network: str, service: str, *, aliases: Sequence[str] = ()) -> None:
        self.select_services([service])
        with self.state.locked("net connect"):
            self.backend.connect(self.project, network, service, aliases=aliases)

    def disconnect(self, network: str, service: str) -> None:
        self.select_services([service])
        with self.state.locked("net disconnect"):
            self.backend.disconnect(self.project, network, service)
