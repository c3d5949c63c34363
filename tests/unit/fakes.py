"""An in-memory backend: for unit tests of the logic above backends, never as proof."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from squall.errors import BackendError
from squall.runtime.base import (
    Action,
    Backend,
    NetworkAddress,
    NetworkState,
    Progress,
    ServiceState,
)
from squall.spec.model import ClusterSpec

_STATE_AFTER = {
    Action.START: "running",
    Action.STOP: "exited",
    Action.RESTART: "running",
    Action.KILL: "exited",
    Action.PAUSE: "paused",
    Action.UNPAUSE: "running",
}


@dataclass
class FakeBackend(Backend):
    name: str = "fake"
    services: dict[str, dict[str, ServiceState]] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def _up(self, spec: ClusterSpec, build: bool, force: bool, progress: Progress) -> None:
        self.calls.append(("up", spec.name))
        project = self.services.setdefault(spec.name, {})
        host = 2
        for s in spec.services:
            for number in range(1, s.scale + 1):
                state = ServiceState(
                    service=s.name,
                    container=f"{spec.name}-{s.name}-{number}",
                    id=f"{host:012x}",
                    state="running",
                    addresses=tuple(
                        NetworkAddress(n.name, f"10.0.0.{host}", 24) for n in s.networks
                    ),
                    replica=number if s.scale > 1 else None,
                )
                project[state.member] = state
                host += 1
            if progress:
                progress.step(s.name, "started", done=True)

    def _down(self, project: str, volumes: bool, images: bool, progress: Progress) -> None:
        self.calls.append(("down", project))
        self.services.pop(project, None)

    def status(self, project: str) -> list[ServiceState]:
        return sorted(
            self.services.get(project, {}).values(), key=lambda s: (s.service, s.replica or 0)
        )

    def networks(self, project: str) -> list[NetworkState]:
        return []

    def logs(
        self, project: str, service: str, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[bytes]:
        yield f"log of {service}\n".encode()

    def exec(self, project: str, service: str, argv: Sequence[str], *, tty: bool = False) -> int:
        self.calls.append(("exec", service, *argv))
        return 0

    def act(
        self, project: str, services: Sequence[str], action: Action, *, signal: str | None = None
    ) -> None:
        self.calls.append((str(action), *services))
        held = self.services[project]
        for name in services:
            for key, state in list(held.items()):
                if name in (key, state.service):
                    held[key] = ServiceState(**{**state.__dict__, "state": _STATE_AFTER[action]})

    def create_network(
        self, project: str, name: str, *, subnet: str | None = None, internal: bool = False
    ) -> NetworkState:
        return NetworkState(name, f"{project}_{name}", None, "bridge", (subnet,) if subnet else ())

    def remove_network(self, project: str, name: str) -> None:
        raise BackendError(f"no network {name!r}")

    def connect(
        self, project: str, network: str, service: str, *, aliases: Sequence[str] = ()
    ) -> None:
        self.calls.append(("connect", network, service, *aliases))

    def disconnect(self, project: str, network: str, service: str) -> None:
        self.calls.append(("disconnect", network, service))
