"""A service, as the Engine API's create request. Pure: no engine, no I/O.

`container_request()` turns one `ServiceSpec` (plus facts only known at `up` time: the
engine names of networks and volumes, the addresses of linked containers) into the raw
JSON body of `POST /containers/create` and the list of extra network attachments to make
before the container starts (API 1.41 attaches one network at create time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from squall.errors import BackendError
from squall.runtime.docker import naming
from squall.runtime.docker.files import InjectedFile, file_mounts
from squall.runtime.docker.hooks import hook_labels
from squall.runtime.links import LinkTarget, link_environment
from squall.spec.model import (
    ClusterSpec,
    ContainerSettings,
    Healthcheck,
    Resources,
    ServiceSpec,
)
from squall.spec.usage import service_networks

JSON = dict[str, Any]
NANOSECONDS = 1_000_000_000
_SPECIAL_NETWORK_MODES = ("bridge", "host", "none", "default")


@dataclass(frozen=True)
class Attachment:
    """One network a container joins, with what it is known as there."""

    network: str
    """Cluster name (`default`)."""
    engine_name: str
    """Engine name (`proj_default`)."""
    aliases: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    """`container:alias` pairs: `alias` resolves to `container` for this one only."""
    ipv4_address: str | None = None

    def endpoint(self) -> JSON:
        config: JSON = {"Aliases": list(self.aliases)}
        if self.links:
            config["Links"] = list(self.links)
        if self.ipv4_address:
            config["IPAMConfig"] = {"IPv4Address": self.ipv4_address}
        return config


@dataclass(frozen=True)
class ContainerRequest:
    name: str
    config: JSON
    """Body of `POST /containers/create`, without the config-hash label."""
    connect: tuple[Attachment, ...]
    """Networks to join after create, before start."""
    files: tuple[InjectedFile, ...] = ()
    """Secrets and configs written into the container after create, before start."""
    notes: tuple[str, ...] = ()
    """What the engine is not asked to do as the file says, one line each."""

    def hash_document(self, image_id: str) -> JSON:
        document: JSON = {
            "config": self.config,
            "connect": [a.__dict__ for a in self.connect],
            "image": image_id,
        }
        if self.files:  # absent otherwise: containers made before keep their hash
            document["files"] = [f.digest() for f in self.files]
        return document


def container_request(
    spec: ClusterSpec,
    service: ServiceSpec,
    *,
    image: str,
    network_names: Mapping[str, str],
    volume_names: Mapping[str, str],
    links: Sequence[LinkTarget] = (),
    container_names: Mapping[str, str] | None = None,
    number: int = 1,
) -> ContainerRequest:
    """Build the create request of `service`.

    Args:
        spec: the cluster (for other services' container names).
        image: the image reference to run.
        network_names: cluster network name -> engine name.
        volume_names: cluster volume name -> engine name.
        links: resolved `links:` targets (their addresses), in the service's order.
        container_names: service -> container name (default: computed from `spec`); a
            link or `network_mode: service:X` reaches X's first replica, as in Compose.
        number: which replica of `service` (1..scale).
    """
    project = spec.name
    names = dict(
        container_names or {s.name: naming.container_name(project, s) for s in spec.services}
    )
    name = naming.container_name(project, service, number)
    attachments = _attachments(spec, service, network_names, names)
    labels = naming.container_labels(
        project,
        service,
        networks={a.network: a.engine_name for a in attachments},
        number=number,
    )
    labels.update(hook_labels(service))
    env = link_environment(name, links)
    env.update(service.environment)
    config = _config(service, image, labels, env)
    binds, tmpfs, anonymous = _mounts(service, volume_names)
    mounted = file_mounts(spec, service)
    if anonymous:
        config["Volumes"] = anonymous
    host = _host_config(service)
    host.update(_resources(service.resources))
    host.update(_settings(service.settings))
    host["Binds"] = [*binds, *mounted.binds] or None
    host["Tmpfs"] = {**tmpfs, **_tmpfs(service.settings)} or None
    host["NetworkMode"] = network_mode(service, attachments, names)
    config["HostConfig"] = {k: v for k, v in host.items() if v is not None}
    if attachments:
        first = attachments[0]
        config["NetworkingConfig"] = {"EndpointsConfig": {first.engine_name: first.endpoint()}}
    return ContainerRequest(
        name=name,
        config=config,
        connect=tuple(attachments[1:]),
        files=mounted.files,
        notes=(*_resource_notes(service.resources), *mounted.notes),
    )


def _config(
    service: ServiceSpec, image: str, labels: Mapping[str, str], env: Mapping[str, str]
) -> JSON:
    """The container's own config: what runs, as whom, where, and its healthcheck."""
    config: JSON = {
        "Image": image,
        "Labels": dict(labels),
        "Env": [f"{k}={v}" for k, v in env.items()],
        "Tty": service.tty,
        "OpenStdin": service.stdin_open,
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
    }
    optional: JSON = {
        "Cmd": list(service.command) if service.command is not None else None,
        "Entrypoint": (list(service.entrypoint) or [""])
        if service.entrypoint is not None
        else None,
        "Hostname": service.hostname or None,
        "WorkingDir": service.working_dir or None,
        "User": service.user or None,
        "Healthcheck": healthcheck_config(service.healthcheck)
        if service.healthcheck is not None
        else None,
        "StopSignal": service.settings.stop_signal,
        "StopTimeout": int(service.settings.stop_grace_period)
        if service.settings.stop_grace_period is not None
        else None,
    }
    config.update({k: v for k, v in optional.items() if v is not None})
    exposed = {f"{p.target}/{p.protocol}" for p in service.ports}
    exposed.update(f"{port}/tcp" for port in service.expose)
    if exposed:
        config["ExposedPorts"] = {key: {} for key in sorted(exposed)}
    return config


def _host_config(service: ServiceSpec) -> JSON:
    """The host side: capabilities, restart policy, extra hosts, published ports."""
    host: JSON = {
        "CapAdd": list(service.cap_add) or None,
        "CapDrop": list(service.cap_drop) or None,
        "Privileged": service.privileged,
        "Init": service.init or None,
        "ExtraHosts": [_extra_host(h) for h in service.extra_hosts] or None,
        "RestartPolicy": restart_policy(service.restart, service.name),
    }
    bindings: dict[str, list[JSON]] = {}
    for port in service.ports:
        bindings.setdefault(f"{port.target}/{port.protocol}", []).append(
            {
                "HostIp": port.host_ip or "",
                "HostPort": "" if port.published is None else str(port.published),
            }
        )
    host["PortBindings"] = bindings or None
    return host


def _resources(resources: Resources) -> JSON:
    """Limits and reservations, as Compose sets them on one engine (no Swarm)."""
    return {
        "Memory": resources.memory,
        "MemoryReservation": resources.memory_reservation,
        "NanoCpus": round(resources.cpus * NANOSECONDS) if resources.cpus else None,
        "CpuShares": resources.cpu_shares,
        "PidsLimit": resources.pids,
        "ShmSize": resources.shm_size,
        "Ulimits": [{"Name": u.name, "Soft": u.soft, "Hard": u.hard} for u in resources.ulimits]
        or None,
    }


def _resource_notes(resources: Resources) -> tuple[str, ...]:
    if resources.cpus_reservation is None:
        return ()
    return (
        f"deploy.resources.reservations.cpus {resources.cpus_reservation:g}: an engine "
        "without Swarm reserves no CPU, so none is reserved (limits apply)",
    )


def _settings(settings: ContainerSettings) -> JSON:
    """The engine settings a service may give: root filesystem, kernel, logs, DNS."""
    logging = settings.logging
    return {
        "ReadonlyRootfs": settings.read_only or None,
        "Sysctls": dict(settings.sysctls) or None,
        "LogConfig": {"Type": logging.driver or "", "Config": dict(logging.options)}
        if logging is not None
        else None,
        "Dns": list(settings.dns) or None,
        "DnsSearch": list(settings.dns_search) or None,
    }


def _tmpfs(settings: ContainerSettings) -> dict[str, str]:
    """`tmpfs: /run:size=64m` -> `{"/run": "size=64m"}` (the engine's form)."""
    return dict(entry.partition(":")[::2] for entry in settings.tmpfs)


def _mounts(
    service: ServiceSpec, volume_names: Mapping[str, str]
) -> tuple[list[str], dict[str, str], dict[str, JSON]]:
    """`volumes:` as binds (named volumes and host paths), tmpfs mounts and anonymous
    volumes.

    Raises:
        BackendError: a bind mount without a source.
    """
    binds: list[str] = []
    tmpfs: dict[str, str] = {}
    anonymous: dict[str, JSON] = {}
    for mount in service.volumes:
        mode = "ro" if mount.read_only else "rw"
        if mount.type == "tmpfs":
            tmpfs[mount.target] = "ro" if mount.read_only else ""
        elif mount.type == "bind":
            if not mount.source:
                raise BackendError(
                    f"service {service.name!r}: bind mount {mount.target} has no source",
                    service=service.name,
                )
            binds.append(f"{mount.source}:{mount.target}:{mode}")
        elif mount.source:
            binds.append(f"{volume_names.get(mount.source, mount.source)}:{mount.target}:{mode}")
        else:
            anonymous[mount.target] = {}
    return binds, tmpfs, anonymous


def network_mode(
    service: ServiceSpec, attachments: Sequence[Attachment], names: Mapping[str, str]
) -> str:
    mode = service.network_mode
    if mode is None:
        return attachments[0].engine_name if attachments else "none"
    if mode.startswith("service:"):
        other = mode.split(":", 1)[1]
        if other not in names:
            raise BackendError(
                f"service {service.name!r}: network_mode {mode!r} names no service",
                service=service.name,
            )
        return f"container:{names[other]}"
    return mode


def healthcheck_config(check: Healthcheck) -> JSON:
    if check.disabled:
        return {"Test": ["NONE"]}
    config: JSON = {
        "Test": ["CMD", *check.test] if check.test else [],
        "Interval": _nanoseconds(check.interval),
        "Timeout": _nanoseconds(check.timeout),
        "Retries": check.retries,
        "StartPeriod": _nanoseconds(check.start_period),
    }
    return config


def restart_policy(restart: str | None, service: str) -> JSON | None:
    if restart is None or restart in ("no", ""):
        return None
    name, _, count = restart.partition(":")
    if name not in ("always", "unless-stopped", "on-failure"):
        raise BackendError(f"service {service!r}: unknown restart policy {restart!r}", service)
    policy: JSON = {"Name": name}
    if count:
        policy["MaximumRetryCount"] = int(count)
    return policy


def _attachments(
    spec: ClusterSpec,
    service: ServiceSpec,
    network_names: Mapping[str, str],
    names: Mapping[str, str],
) -> list[Attachment]:
    result: list[Attachment] = []
    for attachment in service_networks(service):
        # A link is an alias only where both ends meet; the engine refuses it elsewhere.
        link_pairs = tuple(
            f"{names[link.service]}:{link.alias}"
            for link in service.links
            if (linked := spec.service(link.service)) is not None
            and any(n.name == attachment.name for n in service_networks(linked))
        )
        aliases = [service.name, *attachment.aliases]
        if service.hostname:
            aliases.append(service.hostname)
        result.append(
            Attachment(
                network=attachment.name,
                engine_name=network_names[attachment.name],
                aliases=tuple(dict.fromkeys(aliases)),
                links=link_pairs,
                ipv4_address=attachment.ipv4_address,
            )
        )
    return result


def _nanoseconds(seconds: float) -> int:
    return round(seconds * NANOSECONDS)


def _extra_host(entry: str) -> str:
    """Compose accepts `host=ip` and `host:ip`; the engine wants `host:ip`."""
    name, sep, address = entry.partition("=")
    return f"{name}:{address}" if sep else entry
