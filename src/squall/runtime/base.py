"""What a backend is: a few methods that make a `ClusterSpec` real and read it back.

Backends find everything they created again from the engine or the kernel (labels,
names they gave), never from memory, so `status` and `down` work after a crash and
from another shell. Faults only need what `status` returns per service: its network
namespace and its address on each network.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from squall.errors import BackendError
from squall.spec.model import ClusterSpec


class Action(StrEnum):
    START = "start"
    STOP = "stop"
    RESTART = "restart"
    KILL = "kill"
    PAUSE = "pause"
    UNPAUSE = "unpause"


@dataclass(frozen=True)
class NetworkAddress:
    """A service's address on one cluster network."""

    network: str
    """The network's name in the cluster file (e.g. `default`)."""
    ip: str | None
    prefix_len: int | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceState:
    service: str
    container: str
    """The name the backend gave it, e.g. `myproj-api-1`."""
    id: str | None
    state: str
    """created | running | paused | restarting | exited | dead | missing"""
    health: str | None = None
    """healthy | unhealthy | starting, or None without a healthcheck."""
    addresses: tuple[NetworkAddress, ...] = ()
    pid: int | None = None
    netns: str | None = None
    """Path of the network namespace (`/proc/<pid>/ns/net`) while running."""
    image: str | None = None
    ports: tuple[str, ...] = ()
    """Published ports as `HOST_IP:HOST_PORT->TARGET/PROTO`."""
    replica: int | None = None
    """Its number among the containers of its service when the service runs several
    (`deploy.replicas`, `--scale`); None for a service of one container."""
    host: str | None = None
    """The host of `x-squall: hosts` it runs on; None on a cluster of one engine."""
    elsewhere: bool = False
    """Running on a kernel not proved to be this machine's: its namespace cannot be
    entered from here (`netns` is None unless `agent` reaches it)."""
    agent: str | None = None
    """The host whose agent reaches its namespace; `netns` is then that host's path."""

    @property
    def member(self) -> str:
        """The name fault and service commands give this one container: `api-2` for a
        replica, the service's own name for a service of one."""
        return self.service if self.replica is None else f"{self.service}-{self.replica}"


@dataclass(frozen=True)
class ServiceChange:
    """Something the engine reports that may leave a service without its faults: it
    (re)started (a new namespace), or joined or left a network (a new address)."""

    service: str
    what: str
    """`start`, `connect` or `disconnect`."""
    at: float
    """When the engine saw it (Unix time): where a watch that broke off resumes."""


@dataclass(frozen=True)
class NetworkState:
    name: str
    """The network's name in the cluster file (or as created with `net create`)."""
    backend_name: str
    """The engine's / kernel's name, e.g. `myproj_default`."""
    id: str | None
    driver: str
    subnets: tuple[str, ...] = ()
    internal: bool = False
    external: bool = False
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class Waits:
    """How long a backend waits on services, in seconds: the same knobs on every backend."""

    stop: float = 10.0
    """What `stop`, `restart` and `down` give a service before SIGKILL."""
    health: float | None = None
    """Upper bound on waiting for `service_healthy`; by default from its healthcheck."""
    completion: float = 600.0
    """Upper bound on waiting for `service_completed_successfully`."""


class Progress(Protocol):
    """Receives one line per step of long work (`up`, `down`, image builds)."""

    def step(self, subject: str, message: str, *, done: bool = False) -> None: ...


class SilentProgress:
    def step(self, subject: str, message: str, *, done: bool = False) -> None:
        return None


class Backend(abc.ABC):
    """A runtime for clusters. Constructors do no work; `close()` releases clients."""

    name: str

    def __init__(self, waits: Waits | None = None) -> None:
        self.waits = waits or Waits()

    def up(
        self,
        spec: ClusterSpec,
        *,
        build: bool = False,
        force: bool = False,
        progress: Progress | None = None,
        services: Sequence[str] | None = None,
    ) -> None:
        """Create what is missing and start everything in `depends_on` order.

        Idempotent: what already exists and matches is left alone; `force` recreates.
        With `services`, only those are brought up (`up SERVICE...`: the caller has
        added their dependencies, or not for `--no-deps`); the others are left as they
        are.
        """
        progress = progress or SilentProgress()
        if services is None:
            self._up(spec, build, force, progress)
        else:
            self._up_selected(spec, services, build, force, progress)

    @abc.abstractmethod
    def _up(self, spec: ClusterSpec, build: bool, force: bool, progress: Progress) -> None: ...

    def _up_selected(
        self,
        spec: ClusterSpec,
        services: Sequence[str],
        build: bool,
        force: bool,
        progress: Progress,
    ) -> None:
        """`up SERVICE...` on a backend that brings a cluster up whole: every service of
        the file starts (and the line says so)."""
        progress.step(
            spec.name,
            f"`up {' '.join(services)}` on {self.name} brings up every service of the file "
            "(choosing services is for the Docker backend)",
        )
        self._up(spec, build, force, progress)

    def down(
        self,
        project: str,
        *,
        volumes: bool = False,
        images: bool = False,
        progress: Progress | None = None,
    ) -> None:
        """Remove every container and network labelled with `project` (volumes too);
        with `images`, the images built for its `build:` services as well."""
        self._down(project, volumes, images, progress or SilentProgress())

    @abc.abstractmethod
    def _down(self, project: str, volumes: bool, images: bool, progress: Progress) -> None: ...

    @abc.abstractmethod
    def status(self, project: str) -> list[ServiceState]:
        """Services of `project` as the engine sees them, sorted by service name."""

    @abc.abstractmethod
    def networks(self, project: str) -> list[NetworkState]: ...

    @abc.abstractmethod
    def logs(
        self, project: str, service: str, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[bytes]: ...

    @abc.abstractmethod
    def exec(self, project: str, service: str, argv: Sequence[str], *, tty: bool = False) -> int:
        """Run `argv` inside the service, attached to this process's stdio; exit code."""

    @abc.abstractmethod
    def act(
        self, project: str, services: Sequence[str], action: Action, *, signal: str | None = None
    ) -> None: ...

    @abc.abstractmethod
    def create_network(
        self, project: str, name: str, *, subnet: str | None = None, internal: bool = False
    ) -> NetworkState: ...

    @abc.abstractmethod
    def remove_network(self, project: str, name: str) -> None: ...

    @abc.abstractmethod
    def connect(
        self, project: str, network: str, service: str, *, aliases: Sequence[str] = ()
    ) -> None: ...

    @abc.abstractmethod
    def disconnect(self, project: str, network: str, service: str) -> None: ...

    def agent_call(self, project: str, host: str) -> Callable[[str], str]:
        """How to send one request to the agent that reaches namespaces on `host` (for
        services whose `agent` names it); the agent is started on first use.

        Raises:
            BackendError: this backend has no agents.
        """
        raise BackendError(f"the {self.name} backend has no agent (host {host!r})")

    watchable: bool = False
    """Whether `watch` works on this backend."""

    def watch(self, project: str, since: float | None = None) -> Iterator[ServiceChange]:
        """The project's service changes from `since` (Unix time; None: from now on),
        as the engine reports them, whoever caused them. Blocks between changes.

        Raises:
            BackendError: this backend cannot be watched, or the engine stopped
                answering (resume with the last change's `at`).
        """
        raise BackendError(f"the {self.name} backend cannot be watched")

    def close(self) -> None:
        return None

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
