"""`squall.Cluster`: the CLI's commands as a Python API, for test suites and scripts.

    with squall.Cluster("compose.yaml") as c:
        c.up()
        c.partition(["a"], ["b", "c"])
        c.shape("a", delay="100ms", to=["b"])
        print(c.probe().pair("a", "b").p50_ms)
        with c.partitioned(["a"], ["b"]):      # restored on exit
            ...
        c.join(); c.fast(); c.down()

Every method calls the same `Session` the CLI does, so changes land in the same event
log (as `who: api`) and values are written as on the command line (`"100ms"`, `"20%"`).
Leaving the `with` block closes the engine client; it does not take the cluster down.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypedDict, Unpack

from squall.cluster_status import ClusterStatus
from squall.errors import ServiceNotFound
from squall.events import Actor, Event
from squall.faults.desired import ShapeEntry
from squall.faults.model import Partition
from squall.faults.request import build_isolation, build_partition, build_shape
from squall.probe import DEFAULT_COUNT, DEFAULT_THROUGHPUT_SECONDS, DEFAULT_TIMEOUT, ProbeReport
from squall.runtime.base import Action, Backend, ServiceState
from squall.session import Session, resolve_cluster

Services = str | Sequence[str]
"""One service name, or several."""


class ShapeOptions(TypedDict, total=False):
    """`squall shape`'s flags, as keyword arguments with the same values."""

    delay: str
    jitter: str
    distribution: str
    correlation: str
    loss: str
    loss_correlation: str
    rate: str
    duplicate: str
    corrupt: str
    reorder: str
    to: Sequence[str]
    port: str
    proto: str
    direction: str
    duration: str


def _names(services: Services | None) -> list[str]:
    if services is None:
        return []
    return [services] if isinstance(services, str) else list(services)


def _group(group: str | Sequence[str]) -> list[str]:
    if isinstance(group, str):
        return [s for s in group.split(",") if s]
    return list(group)


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
        self._file = Path(file) if file is not None else None
        self._project = project
        self._backend_arg = backend
        self._state_root = Path(state_root) if state_root is not None else None
        self._actor = actor or Actor("api")
        self._environ = environ
        self._session: Session | None = None
        self._owned_backend: Backend | None = None

    # Plumbing -------------------------------------------------------------------------

    @property
    def session(self) -> Session:
        """The session every call goes through (made on first use)."""
        if self._session is None:
            cluster = resolve_cluster(
                self._file,
                self._project,
                Path.cwd(),
                self._environ,
                need_file=self._project is None,
            )
            backend = self._backend_arg
            if not isinstance(backend, Backend):
                from squall.runtime.select import make_backend

                backend = make_backend(
                    backend or "auto",
                    preferred=cluster.spec.options.backend if cluster.spec else None,
                    project=cluster.project,
                )
                self._owned_backend = backend
            self._session = Session.create(cluster, backend, self._state_root, actor=self._actor)
        return self._session

    @property
    def project(self) -> str:
        return self.session.project

    def close(self) -> None:
        """Release the engine client (if this object made it). The cluster stays up."""
        if self._owned_backend is not None:
            self._owned_backend.close()
            self._owned_backend = None
        self._session = None

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Cluster(file={self._file!r}, project={self._project!r})"

    # Lifecycle ------------------------------------------------------------------------

    def up(self, *, build: bool = False, force: bool = False) -> None:
        """Create and start everything (`squall up`); idempotent."""
        self.session.up(build=build, force=force)

    def down(self, *, volumes: bool = False, images: bool = False) -> None:
        """Remove containers, networks and every rule (`squall down [-v] [--rmi local]`)."""
        self.session.down(volumes=volumes, images=images)

    def status(self) -> ClusterStatus:
        """Services, their addresses and the faults in force (the kernel read when root)."""
        return self.session.cluster_status(read_kernel=os.geteuid() == 0)

    def services(self) -> list[ServiceState]:
        return self.session.status()

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
        return self.session.events()

    def _act(self, services: Services | None, action: Action, signal: str | None = None) -> None:
        names = self.session.select_services(_names(services), all_services=services is None)
        self.session.act(names, action, signal=signal)

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

    def shape(self, services: Services, **options: Unpack[ShapeOptions]) -> None:
        """`squall shape`: e.g. `c.shape("a", delay="100ms", jitter="10ms", to=["b"])`."""
        names = self.session.select_services(_names(services))
        request = build_shape(known_services=self.session.known_services(), **options)
        self.session.shape(names, request.shape, to_services=request.to_services)

    def slow(self, services: Services) -> None:
        """Blockade's slow (delay from the file's presets)."""
        self.session.preset("slow", self.session.select_services(_names(services)))

    def flaky(self, services: Services) -> None:
        self.session.preset("flaky", self.session.select_services(_names(services)))

    def duplicate(self, services: Services) -> None:
        self.session.preset("duplicate", self.session.select_services(_names(services)))

    def fast(self, services: Services | None = None) -> None:
        """Remove all shaping (None: from every service)."""
        names = self.session.select_services(_names(services), all_services=services is None)
        self.session.fast(names)

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
        holy, neutral = self.session.roles()
        cut = build_partition(
            [_group(g) for g in groups],
            services=self.session.known_services(),
            holy=holy,
            neutral=neutral,
            one_way_cut=one_way,
            pick_random=random,
            jepsen_shape=shape,
            seed=seed,
        )
        self.session.partition(cut)
        return cut

    def isolate(self, *services: str) -> Partition:
        """Cut each named service off from all others."""
        holy, neutral = self.session.roles()
        cut = build_isolation(
            services, known=self.session.known_services(), holy=holy, neutral=neutral
        )
        self.session.partition(cut)
        return cut

    def join(self) -> None:
        """Heal every partition (shaping stays)."""
        self.session.join()

    def heal(self) -> None:
        """Join, remove all shaping, start stopped services and unpause paused ones."""
        states = self.services()
        self.session.heal(
            start=[s.service for s in states if s.state in ("exited", "created", "dead")],
            unpause=[s.service for s in states if s.state == "paused"],
        )

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
        before = self.session.desired_faults().partition
        cut = self.partition(*groups, one_way=one_way, random=random, shape=shape, seed=seed)
        try:
            yield cut
        finally:
            if before:
                self.session.partition(before)
            else:
                self.session.join()

    @contextlib.contextmanager
    def shaped(self, services: Services, **options: Unpack[ShapeOptions]) -> Iterator[None]:
        """A shape for the body of a `with`; the services' shapes before come back on exit."""
        names = self.session.select_services(_names(services))
        shapes = self.session.desired_faults().shapes
        before: dict[str, tuple[ShapeEntry, ...]] = {n: tuple(shapes.get(n, ())) for n in names}
        self.shape(names, **options)
        try:
            yield
        finally:
            self.session.restore_shapes(before)

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
        return self.session.probe(
            _names(services), count=count, timeout=timeout, throughput_seconds=seconds
        )


__all__ = ["Cluster", "ShapeOptions"]
