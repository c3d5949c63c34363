"""`squall.Cluster`: the CLI's commands as a Python API, for test suites and scripts.

    with squall.Cluster("compose.yaml") as c:
        c.up()
        c.partition(["a"], ["b", "c"])
        c.shape("a", delay="100ms", to=["b"])
        print(c.probe().pair("a", "b").p50_ms)
        with c.partitioned(["a"], ["b"]):      # restored on exit
            ...
        c.join(); c.fast(); c.down()

Every method makes the same request the CLI makes (`squall.ops`), so changes land in
the same event log (as `who: api`) and values are written as on the command line
(`"100ms"`, `"20%"`).
Leaving the `with` block closes the engine client; it does not take the cluster down.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Unpack

from squall.cluster_status import ClusterStatus
from squall.errors import ServiceNotFound
from squall.events import Actor, Event
from squall.faults.desired import ShapeEntry
from squall.faults.model import Partition
from squall.ops import requests as req
from squall.ops.fields import ShapeFields
from squall.ops.opening import Where
from squall.ops.operations import Operations
from squall.probe import DEFAULT_COUNT, DEFAULT_THROUGHPUT_SECONDS, DEFAULT_TIMEOUT, ProbeReport
from squall.runtime.base import Action, Backend, ServiceState
from squall.session import Session

Services = str | Sequence[str]
"""One service name, or several."""
ShapeOptions = ShapeFields
"""`squall shape`'s flags, as keyword arguments with the same values."""


def _group(group: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(group, str):
        return tuple(s for s in group.split(",") if s)
    return tuple(group)


class Cluster:
    """One cluster, from its file. Constructing it does nothing; calls do the work.

    Args:
        file: the compose or blockade file; None: the one in the current directory,
            or none at all when `project` names a cluster that is already up.
        project: the cluster's name (default: the file's `name:` or its folder).
        backend: a `Backend`, or a backend name (`docker`); None: the default.
        state_root: where state and event logs live (default: `$SQUALL_STATE_DIR` or
            `~/.local/state/squall`).
        actor: who the event log names (default `api`).
    """

    def __init__(
        self,
        file: str | os.PathLike[str] | None = None,
        project: str | None = None,
        backend: Backend | str | None = None,
        *,
        state_root: str | os.PathLike[str] | None = None,
        actor: Actor | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._where = Where.of_file(
            Path(file) if file is not None else None,
            project=project,
            backend=backend if isinstance(backend, str) else "auto",
            state_root=Path(state_root) if state_root is not None else None,
            environ=environ,
        )
        self._backend = backend if isinstance(backend, Backend) else None
        self._actor = actor or Actor("api")
        self._ops: Operations | None = None

    # Plumbing -------------------------------------------------------------------------

    @property
    def ops(self) -> Operations:
        """The operations every call goes through (made on first use)."""
        if self._ops is None:
            self._ops = Operations.open(
                self._where,
                need_file=self._where.project is None,
                backend=self._backend,
                actor=self._actor,
            )
        return self._ops

    @property
    def session(self) -> Session:
        """The session under the operations (its lock, its event log, its actor)."""
        return self.ops.session

    @property
    def project(self) -> str:
        return self.ops.project

    def close(self) -> None:
        """Release the engine client (if this object made it). The cluster stays up."""
        if self._ops is not None:
            self._ops.close()
            self._ops = None

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        files = self._where.files
        return f"Cluster(file={files[0] if files else None!r}, project={self._where.project!r})"

    # Lifecycle ------------------------------------------------------------------------

    def up(self, *, build: bool = False, force: bool = False) -> None:
        """Create and start everything (`squall up`); idempotent."""
        self.ops.run(req.UpRequest(build=build, force=force))

    def down(self, *, volumes: bool = False, images: bool = False) -> None:
        """Remove containers, networks and every rule (`squall down [-v] [--rmi local]`)."""
        self.ops.run(req.DownRequest(volumes=volumes, images=images))

    def status(self) -> ClusterStatus:
        """Services, their addresses and the faults in force (the kernel read when root)."""
        return self.ops.status(read_kernel=os.geteuid() == 0)

    def services(self) -> list[ServiceState]:
        return self.ops.services()

    def service(self, name: str) -> ServiceState:
        """One service's state.

        Raises:
            ServiceNotFound: no such service.
        """
        for state in self.services():
            if state.service == name:
                return state
        raise ServiceNotFound(f"no service {name!r} in cluster {self.project!r}", service=name)

    def address(self, service: str, network: str | None = None) -> str:
        """A running service's IP (on `network`, or its first network).

        Raises:
            ServiceNotFound: no such service, or it has no address there.
        """
        for addr in self.service(service).addresses:
            if addr.ip and network in (None, addr.network):
                return addr.ip
        where = f" on network {network}" if network else ""
        raise ServiceNotFound(f"service {service!r} has no address{where}", service=service)

    def events(self) -> list[Event]:
        """Every change recorded for this cluster, oldest first."""
        return self.ops.events()

    def _act(self, services: Services | None, action: Action, signal: str | None = None) -> None:
        self.ops.run(req.ActionRequest(action, req.Targets.of(services), signal))

    def start(self, services: Services | None = None) -> None:
        """Start services (None: all)."""
        self._act(services, Action.START)

    def stop(self, services: Services | None = None) -> None:
        self._act(services, Action.STOP)

    def restart(self, services: Services | None = None) -> None:
        self._act(services, Action.RESTART)

    def kill(self, services: Services | None = None, *, signal: str = "SIGKILL") -> None:
        self._act(services, Action.KILL, signal)

    def pause(self, services: Services | None = None) -> None:
        self._act(services, Action.PAUSE)

    def unpause(self, services: Services | None = None) -> None:
        self._act(services, Action.UNPAUSE)

    # Faults ---------------------------------------------------------------------------

    def shape(self, services: Services, **options: Unpack[ShapeFields]) -> None:
        """`squall shape`: e.g. `c.shape("a", delay="100ms", jitter="10ms", to=["b"])`."""
        self.ops.run(req.ShapeRequest(req.Targets.of(services), options))

    def _preset(self, name: req.PresetChoice, services: Services | None) -> None:
        self.ops.run(req.PresetRequest(name, req.Targets.of(services)))

    def slow(self, services: Services) -> None:
        """Blockade's slow (delay from the file's presets)."""
        self._preset("slow", services)

    def flaky(self, services: Services) -> None:
        self._preset("flaky", services)

    def duplicate(self, services: Services) -> None:
        self._preset("duplicate", services)

    def fast(self, services: Services | None = None) -> None:
        """Remove all shaping (None: from every service)."""
        self._preset("fast", services)

    def partition(
        self,
        *groups: str | Sequence[str],
        one_way: bool = False,
        random: bool = False,
        shape: str | None = None,
        seed: int | None = None,
    ) -> Partition:
        """`squall partition`: `c.partition(["a"], ["b", "c"])`, `one_way=True` with two
        groups, `random=True`, or one of Jepsen's shapes (`shape="majorities-ring"`).
        Replaces the partition in force; returns the one applied."""
        request = req.PartitionRequest(
            groups=tuple(_group(g) for g in groups),
            one_way=one_way,
            random=random,
            shape=shape,  # type: ignore[arg-type]  # checked by the request's run
            seed=seed,
        )
        made = self.ops.run(request).partition
        assert made is not None
        return made

    def isolate(self, *services: str) -> Partition:
        """Cut each named service off from all others."""
        made = self.ops.run(req.PartitionRequest(isolate=services)).partition
        assert made is not None
        return made

    def join(self) -> None:
        """Heal every partition (shaping stays)."""
        self.ops.run(req.JoinRequest())

    def heal(self) -> None:
        """Join, remove all shaping, start stopped services and unpause paused ones."""
        self.ops.run(req.HealRequest())

    @contextlib.contextmanager
    def partitioned(
        self,
        *groups: str | Sequence[str],
        one_way: bool = False,
        random: bool = False,
        shape: str | None = None,
        seed: int | None = None,
    ) -> Iterator[Partition]:
        """A partition for the body of a `with`; the one before comes back on exit."""
        before = self.ops.partition()
        cut = self.partition(*groups, one_way=one_way, random=random, shape=shape, seed=seed)
        try:
            yield cut
        finally:
            self.ops.run(req.RestoreRequest(partition=before))

    @contextlib.contextmanager
    def shaped(self, services: Services, **options: Unpack[ShapeFields]) -> Iterator[None]:
        """A shape for the body of a `with`; the services' shapes before come back on exit."""
        names = self.ops.select(req.Targets.of(services))
        shapes = self.ops.shapes()
        before: dict[str, tuple[ShapeEntry, ...]] = {n: shapes.get(n, ()) for n in names}
        self.shape(names, **options)
        try:
            yield
        finally:
            self.ops.run(req.RestoreRequest(shapes=before))

    # Measuring ------------------------------------------------------------------------

    def probe(
        self,
        services: Services | None = None,
        *,
        count: int = DEFAULT_COUNT,
        timeout: float = DEFAULT_TIMEOUT,
        throughput: bool | float = False,
    ) -> ProbeReport:
        """RTT, loss (and with `throughput`, TCP Mbit/s) between running services.

        `throughput=True` streams for half a second per pair; a number gives seconds.
        """
        seconds: float | None = None
        if throughput is True:
            seconds = DEFAULT_THROUGHPUT_SECONDS
        elif throughput:
            seconds = float(throughput)
        names = () if services is None else req.Targets.of(services).services
        request = req.ProbeRequest(names, count=count, timeout=timeout, throughput_seconds=seconds)
        return self.ops.probe(request)


__all__ = ["Cluster", "ShapeOptions"]
