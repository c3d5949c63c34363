"""A cluster across several Docker Engines: one Swarm, its overlay networks, and each
service an ordinary container on its own host.

The Swarm is only the substrate: its attachable `overlay` networks join containers on
different hosts, and its DNS resolves their names and aliases across hosts. Services
are not Swarm services: each container is made by that host's `DockerBackend` (the same
`UpRun` as on one engine), so everything Squall does on one engine (config hashes,
hooks, health waits, labels in the create request) holds on each host.

`up` asks every host first and creates nothing if one does not answer. Everything it
makes carries the project's label on its own engine, so `down` finds it all again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TypeVar

from squall.errors import BackendError, EngineUnavailable, ServiceNotFound
from squall.runtime.base import (
    Action,
    Backend,
    NetworkState,
    Progress,
    ServiceState,
    Waits,
)
from squall.runtime.docker import naming
from squall.runtime.docker.backend import DockerBackend
from squall.runtime.docker.engine import DockerEngine
from squall.runtime.docker.status import numbered
from squall.runtime.docker.up import SerialProgress, UpRun
from squall.runtime.swarm.engines import engines_of, unreachable
from squall.runtime.swarm.swarm import ensure_swarm, leave_swarm, made_by, membership
from squall.spec.hosts import place
from squall.spec.model import ClusterSpec, HostSpec
from squall.spec.usage import used_networks

T = TypeVar("T")


class HostProgress:
    """Progress lines of one host's work, named `subject@host`."""

    def __init__(self, inner: Progress, host: str) -> None:
        self._inner = inner
        self._host = host

    def step(self, subject: str, message: str, *, done: bool = False) -> None:
        self._inner.step(f"{subject}@{self._host}", message, done=done)


class SwarmBackend(Backend):
    """Clusters on the engines of `x-squall: hosts`. Contacts none until first asked.

    Args:
        hosts: the engines, in name order; the first is the Swarm's manager when Squall
            makes the Swarm.
        engines: low-level access per host name (default: from each host's URL).
    """

    name = "docker"
    watchable = False

    def __init__(
        self,
        hosts: Sequence[HostSpec],
        *,
        engines: Mapping[str, DockerEngine] | None = None,
        waits: Waits | None = None,
    ) -> None:
        super().__init__(waits)
        if not hosts:
            raise BackendError("a cluster on several hosts needs at least one host")
        self.hosts = tuple(hosts)
        self._engines = dict(engines) if engines is not None else engines_of(self.hosts)
        self._backends = {
            h.name: DockerBackend(self._engines[h.name], self.waits) for h in self.hosts
        }

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()

    def engine(self, host: str) -> DockerEngine:
        return self._engines[host]

    # -- up ------------------------------------------------------------------------------

    def _up(self, spec: ClusterSpec, build: bool, force: bool, progress: Progress) -> None:
        self._up_hosts(spec, build, force, progress, None)

    def _up_selected(
        self,
        spec: ClusterSpec,
        services: Sequence[str],
        build: bool,
        force: bool,
        progress: Progress,
    ) -> None:
        self._up_hosts(spec, build, force, progress, frozenset(services))

    def _up_hosts(
        self,
        spec: ClusterSpec,
        build: bool,
        force: bool,
        progress: Progress,
        only: frozenset[str] | None,
    ) -> None:
        """Every host answers first (else one line naming it, nothing made); then the
        Swarm, the overlay networks on its manager, and each host's containers.

        Raises:
            EngineUnavailable: a host does not answer (nothing was created anywhere).
            BackendError: see `DockerBackend.up` and `ensure_swarm`.
        """
        self._each_host(lambda host: self._engines[host.name].ping())
        serial = SerialProgress(progress)
        manager = ensure_swarm(spec.name, self.hosts, self._engines, serial)
        networks = self._overlay_networks(spec, manager, serial)
        placement = place(spec)
        for host in self.hosts:
            numbers = placement.on(host.name)
            chosen = frozenset(numbers) if only is None else frozenset(numbers) & only
            if not chosen:
                continue
            UpRun(
                self._engines[host.name],
                spec,
                HostProgress(serial, host.name),
                force=force,
                waits=self.waits,
                only=chosen,
                numbers=numbers,
                shared_networks=networks,
            ).run(build=build)

    def _overlay_networks(
        self, spec: ClusterSpec, manager: str, progress: Progress
    ) -> dict[str, str]:
        """Every network the services use, as an attachable overlay made on the manager
        (a network declared external is used as it is)."""
        engine = self._engines[manager]
        names: dict[str, str] = {}
        for network in used_networks(spec):
            engine_name = naming.network_name(spec.name, network)
            names[network.name] = engine_name
            if engine.inspect_network(engine_name) is not None:
                continue
            if network.external:
                raise BackendError(
                    f"network {engine_name!r} is declared external but does not exist on "
                    f"the Swarm's manager {manager}"
                )
            progress.step(f"network {network.name}", f"creating overlay {engine_name}")
            engine.create_network(
                engine_name,
                driver="overlay",
                subnets=network.subnets,
                gateway=network.gateway,
                internal=network.internal,
                labels=naming.network_labels(spec.name, network.name, network.labels),
                attachable=True,
            )
        return names

    # -- down ----------------------------------------------------------------------------

    def _down(self, project: str, volumes: bool, images: bool, progress: Progress) -> None:
        """Containers on every host (the manager's last, so overlay networks go with
        it), then the Swarm if Squall made it for `project` and nothing else of Squall
        runs on it. A host that does not answer is named at the end; the others are
        cleaned all the same.

        Raises:
            BackendError: something could not be removed, or a host did not answer.
        """
        serial = SerialProgress(progress)
        failures: list[str] = []
        manager = self._manager()
        order = sorted(self.hosts, key=lambda h: h.name == manager)
        for host in order:
            try:
                self._backends[host.name].remove_project(
                    project,
                    volumes=volumes,
                    images=images,
                    progress=HostProgress(serial, host.name),
                    networks=host.name == manager or manager is None,
                )
            except EngineUnavailable as exc:
                failures.append(unreachable(host, exc).message)
            except BackendError as exc:
                failures.append(f"host {host.name}: {exc.message}")
        if manager is not None and not failures:
            self._leave_if_made(project, manager, serial)
        if failures:
            raise BackendError(f"down {project!r}: " + "; ".join(failures))

    def _manager(self) -> str | None:
        """The first host that manages a Swarm, if any answers as one."""
        for host in self.hosts:
            try:
                if membership(host, self._engines[host.name]).manager:
                    return host.name
            except EngineUnavailable:
                continue
        return None

    def _leave_if_made(self, project: str, manager: str, progress: Progress) -> None:
        if made_by(self._engines[manager]) != project:
            return
        others = [
            host.name
            for host in self.hosts
            if self._engines[host.name].containers([naming.PROJECT_LABEL])
        ]
        if others:
            progress.step("swarm", f"kept: other Squall clusters run on {', '.join(others)}")
            return
        progress.step("swarm", f"leaving the Swarm {project} made")
        leave_swarm(self.hosts, self._engines, manager)

    # -- reading state -------------------------------------------------------------------

    def status(self, project: str) -> list[ServiceState]:
        """Every host's containers, each with its host; a service's replicas are
        numbered across hosts. A host that does not answer is left out (its services
        show as missing), and the others are read all the same."""
        found: list[ServiceState] = []

        def read(host: HostSpec) -> list[ServiceState]:
            try:
                return self._backends[host.name].containers_status(project)
            except EngineUnavailable:
                return []

        for host, states in zip(self.hosts, _parallel(read, self.hosts), strict=True):
            found += [_on_host(s, host) for s in states]
        return sorted(numbered(found), key=lambda s: (s.service, s.replica or 0, s.container))

    def networks(self, project: str) -> list[NetworkState]:
        manager = self._manager()
        merged: dict[str, NetworkState] = {}
        for host in self.hosts:
            for state in self._backends[host.name].networks(project):
                known = merged.get(state.backend_name)
                if known is None or host.name == manager:
                    services = tuple(sorted({*state.services, *(known.services if known else ())}))
                    merged[state.backend_name] = replace(state, services=services)
                else:
                    services = tuple(sorted({*known.services, *state.services}))
                    merged[state.backend_name] = replace(known, services=services)
        return sorted(merged.values(), key=lambda n: n.name)

    def logs(
        self, project: str, service: str, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[bytes]:
        return self._owners(project, service)[0].logs(project, service, follow=follow, tail=tail)

    def exec(self, project: str, service: str, argv: Sequence[str], *, tty: bool = False) -> int:
        return self._owners(project, service)[0].exec(project, service, argv, tty=tty)

    def act(
        self, project: str, services: Sequence[str], action: Action, *, signal: str | None = None
    ) -> None:
        """On every host that runs one of `services` (all are checked first)."""
        work = [(backend, name) for name in services for backend in self._owners(project, name)]
        for backend, name in work:
            backend.act(project, [name], action, signal=signal)

    def _owners(self, project: str, service: str) -> list[DockerBackend]:
        """The hosts' backends that run a container of `service` (or replica `api-2`).

        Raises:
            ServiceNotFound: none does.
        """
        owners = []
        for state in self.status(project):
            if service in (state.service, state.member) and state.host is not None:
                backend = self._backends[state.host]
                if backend not in owners:
                    owners.append(backend)
        if not owners:
            raise ServiceNotFound(
                f"cluster {project!r} has no service {service!r} on any host", service=service
            )
        return owners

    # -- ad-hoc networks -----------------------------------------------------------------

    def create_network(
        self, project: str, name: str, *, subnet: str | None = None, internal: bool = False
    ) -> NetworkState:
        """An attachable overlay on the Swarm's manager, labelled like the file's own."""
        manager = self._manager()
        if manager is None:
            raise BackendError("the hosts are in no Swarm; run `squall up` first")
        engine = self._engines[manager]
        engine_name = naming.adhoc_network_name(project, name)
        if engine.inspect_network(engine_name) is not None:
            raise BackendError(f"network {name!r} exists already ({engine_name})")
        engine.create_network(
            engine_name,
            driver="overlay",
            subnets=(subnet,) if subnet else (),
            gateway=None,
            internal=internal,
            labels=naming.network_labels(project, name),
            attachable=True,
        )
        for state in self.networks(project):
            if state.backend_name == engine_name:
                return state
        raise BackendError(f"network {engine_name!r} vanished right after it was created")

    def remove_network(self, project: str, name: str) -> None:
        manager = self._manager()
        if manager is None:
            raise BackendError(f"cluster {project!r} has no network {name!r}")
        self._backends[manager].remove_network(project, name)

    def connect(
        self, project: str, network: str, service: str, *, aliases: Sequence[str] = ()
    ) -> None:
        for backend in self._owners(project, service):
            backend.connect(project, network, service, aliases=aliases)

    def disconnect(self, project: str, network: str, service: str) -> None:
        for backend in self._owners(project, service):
            backend.disconnect(project, network, service)

    def agent_call(self, project: str, host: str) -> Callable[[str], str]:
        return self._backends[host].agent_call(project, host)

    # -- helpers -------------------------------------------------------------------------

    def _each_host(self, call: Callable[[HostSpec], None]) -> None:
        """`call` on every host at once; the first host that does not answer, by name.

        Raises:
            EngineUnavailable: one line naming the host.
        """

        def attempt(host: HostSpec) -> EngineUnavailable | None:
            try:
                call(host)
            except EngineUnavailable as exc:
                return unreachable(host, exc)
            return None

        for problem in _parallel(attempt, self.hosts):
            if problem is not None:
                raise problem


def _on_host(state: ServiceState, host: HostSpec) -> ServiceState:
    """`state` on `host`: reached through that host's agent where its kernel is not
    proved to be this one, or wherever the host says `agent: always`."""
    if state.agent is not None or (host.agent == "always" and state.netns is not None):
        return replace(state, host=host.name, agent=host.name)
    return replace(state, host=host.name)


def _parallel(function: Callable[[HostSpec], T], hosts: Sequence[HostSpec]) -> list[T]:
    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        return list(pool.map(function, hosts))
