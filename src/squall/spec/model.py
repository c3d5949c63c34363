"""The cluster as data: what every backend reads and nothing writes.

A compose file, a legacy v1 compose file and Blockade's blockade.yml all become one
`ClusterSpec`. Instances are frozen, sorted by name and carry the file location they
came from, so later layers can still point a user at the line that caused trouble.
The model does no I/O and needs no root.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from squall.errors import Location

DependencyCondition = Literal[
    "service_started", "service_healthy", "service_completed_successfully"
]
MountType = Literal["bind", "volume", "tmpfs"]
Protocol = Literal["tcp", "udp", "sctp"]
SourceFormat = Literal["compose", "compose-v1", "blockade"]

DEFAULT_NETWORK = "default"


@dataclass(frozen=True)
class PortMapping:
    """One `ports:` entry; `published` None means an ephemeral host port."""

    target: int
    published: int | None = None
    host_ip: str | None = None
    protocol: Protocol = "tcp"


@dataclass(frozen=True)
class VolumeMount:
    """One `volumes:` entry of a service; `source` is an absolute path for binds."""

    target: str
    source: str | None = None
    type: MountType = "volume"
    read_only: bool = False


@dataclass(frozen=True)
class BuildSpec:
    context: Path
    dockerfile: str = "Dockerfile"
    args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None


@dataclass(frozen=True)
class Healthcheck:
    """Durations in seconds; `test` is argv for CMD or ("sh", "-c", ...) for CMD-SHELL."""

    test: tuple[str, ...]
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0
    disabled: bool = False


@dataclass(frozen=True)
class ServiceNetwork:
    """A service's attachment to one cluster network."""

    name: str
    aliases: tuple[str, ...] = ()
    ipv4_address: str | None = None


@dataclass(frozen=True)
class Dependency:
    service: str
    condition: DependencyCondition = "service_started"
    location: Location | None = None
    required: bool = True
    """False: a dependency that is disabled (by profiles) is dropped, not an error."""


@dataclass(frozen=True)
class Link:
    """Legacy `links:` entry: reach `service` under the extra name `alias`."""

    service: str
    alias: str
    location: Location | None = None


@dataclass(frozen=True)
class Ulimit:
    """One `ulimits:` entry; `soft == hard` when the file gives one number."""

    name: str
    soft: int
    hard: int


@dataclass(frozen=True)
class Resources:
    """CPU, memory and process limits of one container (each replica), from
    `deploy.resources` or the older service keys (`mem_limit`, `cpus`, ...).

    Memory in bytes, CPUs as a fraction of cores; None where the file sets nothing.
    """

    cpus: float | None = None
    cpu_shares: int | None = None
    memory: int | None = None
    memory_reservation: int | None = None
    cpus_reservation: float | None = None
    pids: int | None = None
    shm_size: int | None = None
    ulimits: tuple[Ulimit, ...] = ()

    @property
    def empty(self) -> bool:
        return self == Resources()


@dataclass(frozen=True)
class Logging:
    driver: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hook:
    """A `post_start` / `pre_stop` command run inside the container."""

    command: tuple[str, ...]
    user: str | None = None
    privileged: bool = False
    working_dir: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerSettings:
    """How the engine runs each container of a service, beyond what it runs."""

    read_only: bool = False
    tmpfs: tuple[str, ...] = ()
    sysctls: Mapping[str, str] = field(default_factory=dict)
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    logging: Logging | None = None
    stop_signal: str | None = None
    stop_grace_period: float | None = None
    """Seconds."""
    post_start: tuple[Hook, ...] = ()
    pre_stop: tuple[Hook, ...] = ()


@dataclass(frozen=True)
class FileMount:
    """A service's use of a top-level secret or config: `source` mounted at `target`."""

    source: str
    target: str
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None


@dataclass(frozen=True)
class FileSpec:
    """A top-level `secrets:` or `configs:` entry: where its content comes from.

    Exactly one of `file` (absolute), `environment` (a variable name), `content` or
    `external` is set.
    """

    name: str
    location: Location | None = None
    file: str | None = None
    environment: str | None = None
    content: str | None = None
    external: bool = False
    declared_name: str | None = None
    value: str | None = field(default=None, repr=False)
    """The variable's value, for `environment` (read when the file was loaded)."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    location: Location
    image: str | None = None
    build: BuildSpec | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[PortMapping, ...] = ()
    expose: tuple[int, ...] = ()
    volumes: tuple[VolumeMount, ...] = ()
    networks: tuple[ServiceNetwork, ...] = ()
    network_mode: str | None = None
    depends_on: tuple[Dependency, ...] = ()
    links: tuple[Link, ...] = ()
    healthcheck: Healthcheck | None = None
    hostname: str | None = None
    container_name: str | None = None
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    restart: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    user: str | None = None
    tty: bool = False
    stdin_open: bool = False
    init: bool = False
    extra_hosts: tuple[str, ...] = ()
    start_delay: float = 0.0
    """Blockade's `start_delay`, seconds to wait before starting this service."""
    holy: bool = False
    """Never partitioned (Blockade)."""
    neutral: bool = False
    """Reachable from every partition group (Blockade)."""
    profiles: tuple[str, ...] = ()
    scale: int = 1
    """Containers to run (`deploy.replicas`, `scale:` or a scale override)."""
    resources: Resources = field(default_factory=Resources)
    settings: ContainerSettings = field(default_factory=ContainerSettings)
    secrets: tuple[FileMount, ...] = ()
    configs: tuple[FileMount, ...] = ()
    host: str | None = None
    """The host it runs on (`x-squall: {host: h3}` or `deploy.placement.constraints`
    `node.hostname == h3`); None: spread over the hosts."""
    host_location: Location | None = None

    def network(self, name: str) -> ServiceNetwork | None:
        return next((n for n in self.networks if n.name == name), None)


@dataclass(frozen=True)
class NetworkSpec:
    """A cluster network. `external` networks are used, never created or removed."""

    name: str
    location: Location | None = None
    driver: str = "bridge"
    subnets: tuple[str, ...] = ()
    gateway: str | None = None
    internal: bool = False
    external: bool = False
    external_name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    declared_name: str | None = None
    """`name:` of a network Squall creates (kept; backends name what they create)."""
    attachable: bool = False
    enable_ipv6: bool = False


@dataclass(frozen=True)
class VolumeSpec:
    name: str
    location: Location | None = None
    driver: str = "local"
    external: bool = False
    external_name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    declared_name: str | None = None
    """`name:` of a volume Squall creates (kept; backends name what they create)."""


@dataclass(frozen=True)
class FaultPresets:
    """Values of Blockade's presets as written (parsed by the faults layer).

    Defaults are Blockade's own.
    """

    slow: str = "75ms 100ms distribution normal"
    flaky: str = "30%"
    duplicate: str = "5%"


@dataclass(frozen=True)
class TlsFiles:
    """How Squall talks TLS to one engine; paths absolute, None: the client's default."""

    enabled: bool = True
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    verify: bool = True


@dataclass(frozen=True)
class HostSpec:
    """One Docker Engine of a cluster that spans several (`x-squall: hosts`)."""

    name: str
    engine: str
    """Its URL in DOCKER_HOST syntax: unix://, tcp://, ssh://."""
    tls: TlsFiles | None = None
    address: str | None = None
    """The address other hosts reach it on; None: the engine URL's host."""
    agent: Literal["auto", "always"] = "auto"
    """`always`: faults go through the agent even where Squall could enter directly."""
    location: Location | None = None

    @property
    def reach(self) -> str | None:
        """The address the Swarm advertises for it (None for a local socket)."""
        if self.address:
            return self.address
        if self.engine.startswith("unix://"):
            return None
        return urlsplit(self.engine).hostname


@dataclass(frozen=True)
class WanLink:
    """`x-squall: wan`: what every pair of services in two zones sees between them.

    Values as written (`80ms`, `0.1%`, `200mbit`), checked when the file was read."""

    zones: tuple[str, str]
    rtt: str
    jitter: str | None = None
    loss: str | None = None
    rate: str | None = None
    location: Location | None = None


@dataclass(frozen=True)
class SquallOptions:
    """The top-level `x-squall:` block (or Blockade's `network:` block)."""

    backend: str | None = None
    presets: FaultPresets = field(default_factory=FaultPresets)
    hosts: tuple[HostSpec, ...] = ()
    """Engines of a cluster on several hosts, sorted by name; empty: one engine."""
    zones: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """zone -> the hosts or services in it."""
    zones_location: Location | None = None
    wan: tuple[WanLink, ...] = ()
    raw: Mapping[str, object] = field(default_factory=dict)
    """The whole block as read, for options later layers define."""


@dataclass(frozen=True)
class ClusterSpec:
    """One cluster: services, networks and volumes sorted by name."""

    name: str
    source: Path
    format: SourceFormat
    services: tuple[ServiceSpec, ...]
    networks: tuple[NetworkSpec, ...] = ()
    volumes: tuple[VolumeSpec, ...] = ()
    options: SquallOptions = field(default_factory=SquallOptions)
    warnings: tuple[str, ...] = ()
    """One line each: keys of the compose spec that Squall reads but does not act on."""
    secrets: tuple[FileSpec, ...] = ()
    configs: tuple[FileSpec, ...] = ()
    files: tuple[Path, ...] = ()
    """Every file of the set, in merge order (`source` is the first)."""
    directory: Path | None = None
    """The project directory (default: the first file's folder)."""
    profiles: tuple[str, ...] = ()
    """Every profile some service names, enabled or not (sorted)."""
    active_profiles: tuple[str, ...] = ()

    @property
    def project_dir(self) -> Path:
        return self.directory if self.directory is not None else self.source.parent

    def service(self, name: str) -> ServiceSpec | None:
        return next((s for s in self.services if s.name == name), None)

    def network(self, name: str) -> NetworkSpec | None:
        return next((n for n in self.networks if n.name == name), None)

    @property
    def service_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services)
