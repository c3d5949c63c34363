"""A compose service, as the netns supervisor runs it. Pure apart from reading a
Dockerfile when a service has no `command`.

What a service becomes on this backend: its `entrypoint` + `command` run on the host
filesystem, in its namespaces, in `working_dir` (default: the cluster file's folder),
as `user`, with `environment`/`env_file` over a small base (PATH, HOME, HOSTNAME) and
Docker's legacy link variables. A service without `command` whose `build:` has a
Dockerfile takes that file's CMD/ENTRYPOINT (with a notice): the program then has to
exist on the host too. `image` and volumes have no meaning here and are named in
notices.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from squall.errors import BackendError
from squall.runtime.links import LinkTarget, link_environment
from squall.runtime.netns.config import HealthConfig, PortForward, ServiceConfig
from squall.runtime.netns.spawn import Launch, resolve_user
from squall.runtime.netns.topology import HostsExtras, Topology
from squall.runtime.netns.unsupported import container_notes
from squall.spec.model import ClusterSpec, ServiceSpec

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    notice: str | None = None


def dockerfile_command(path: Path) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """(ENTRYPOINT, CMD) of a Dockerfile's last stage, in exec or shell form."""
    try:
        text = path.read_text()
    except OSError:
        return None, None
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    for line in logical:
        word, _, rest = line.partition(" ")
        keyword = word.upper()
        if keyword == "FROM":
            entrypoint = cmd = None
        elif keyword in ("CMD", "ENTRYPOINT"):
            value = _instruction_argv(rest.strip())
            if keyword == "CMD":
                cmd = value
            else:
                entrypoint, cmd = value, None
    return entrypoint, cmd


def _instruction_argv(rest: str) -> tuple[str, ...]:
    if rest.startswith("["):
        try:
            parsed = json.loads(rest)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
            return tuple(parsed)
    return ("/bin/sh", "-c", rest)


def service_command(service: ServiceSpec) -> Command:
    """What the service runs.

    Raises:
        BackendError: neither the file nor a Dockerfile gives a command.
    """
    entrypoint = service.entrypoint
    command = service.command
    notice = None
    if command is None and entrypoint is None and service.build is not None:
        dockerfile = service.build.context / service.build.dockerfile
        entrypoint, command = dockerfile_command(dockerfile)
        if entrypoint or command:
            shown = shlex.join((*(entrypoint or ()), *(command or ())))
            notice = f"no `command:`; runs the CMD of {dockerfile} on this host: {shown}"
    argv = (*(entrypoint or ()), *(command or ()))
    if not argv:
        raise BackendError(
            f"service {service.name!r} has no `command:` (and no Dockerfile CMD): the netns "
            "backend runs commands on this host, not images; add a command",
            service=service.name,
        )
    return Command(tuple(argv), notice)


def service_environment(
    service: ServiceSpec, links: Sequence[LinkTarget], user_home: str | None
) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH") or DEFAULT_PATH,
        "HOSTNAME": service.hostname or service.name,
        "HOME": user_home or "/root",
    }
    env.update(link_environment(service.container_name or service.name, links))
    env.update(service.environment)
    return env


def link_targets(spec: ClusterSpec, service: ServiceSpec, topology: Topology) -> list[LinkTarget]:
    """Legacy `links:` as Docker's variables see them: the linked service's address on
    the first network both share, and its exposed ports."""
    mine = [a.network for a in topology.of_service(service.name)]
    targets = []
    for link in service.links:
        linked = spec.service(link.service)
        if linked is None:
            continue
        ip = None
        for network in mine:
            attachment = topology.attachment(link.service, network)
            if attachment is not None:
                ip = str(attachment.ip)
                break
        ports = {(p.target, p.protocol) for p in linked.ports}
        ports.update((port, "tcp") for port in linked.expose)
        targets.append(
            LinkTarget(
                alias=link.alias,
                container=link.service,
                ip=ip,
                ports=tuple(sorted(ports)),
                environment=dict(linked.environment),
            )
        )
    return targets


def hosts_extras(service: ServiceSpec) -> HostsExtras:
    netns_of = None
    if service.network_mode and service.network_mode.startswith("service:"):
        netns_of = service.network_mode.split(":", 1)[1]
    return HostsExtras(
        hostname=service.hostname,
        links=tuple((link.alias, link.service) for link in service.links),
        extra_hosts=service.extra_hosts,
        netns_of=netns_of,
    )


def extras_to_json(extras: HostsExtras) -> dict[str, object]:
    return {
        "hostname": extras.hostname,
        "links": [list(pair) for pair in extras.links],
        "extra_hosts": list(extras.extra_hosts),
        "netns_of": extras.netns_of,
    }


def extras_from_json(data: Mapping[str, object]) -> HostsExtras:
    links = data.get("links") or []
    extra = data.get("extra_hosts") or []
    hostname = data.get("hostname")
    netns_of = data.get("netns_of")
    return HostsExtras(
        hostname=str(hostname) if hostname else None,
        links=tuple((str(p[0]), str(p[1])) for p in links) if isinstance(links, list) else (),
        extra_hosts=tuple(str(e) for e in extra) if isinstance(extra, list) else (),
        netns_of=str(netns_of) if netns_of else None,
    )


def restart_policy(service: ServiceSpec) -> str:
    policy = service.restart or "no"
    name = policy.partition(":")[0]
    if name not in ("no", "always", "unless-stopped", "on-failure"):
        raise BackendError(
            f"service {service.name!r}: unknown restart policy {policy!r}", service=service.name
        )
    return policy


def service_config(
    spec: ClusterSpec,
    service: ServiceSpec,
    *,
    command: Command,
    topology: Topology,
    netns: str | None,
    hosts: str,
    resolv: str,
    generation: int,
) -> ServiceConfig:
    """The supervisor's view of `service` (desired state `running`)."""
    identity = resolve_user(service.user)
    env = service_environment(
        service, link_targets(spec, service, topology), identity.home if identity else None
    )
    check = service.healthcheck
    health = None
    if check is not None and not check.disabled and check.test:
        health = HealthConfig(
            test=check.test,
            interval=check.interval,
            timeout=check.timeout,
            retries=check.retries,
            start_period=check.start_period,
        )
    owner = service.name
    if service.network_mode and service.network_mode.startswith("service:"):
        owner = service.network_mode.split(":", 1)[1]
    first = topology.of_service(owner)
    target_ip = str(first[0].ip) if first else None
    ports = tuple(
        PortForward(
            target=p.target,
            published=p.published,
            host_ip=p.host_ip or "127.0.0.1",
            target_ip=target_ip,
            protocol=p.protocol,
        )
        for p in service.ports
        if p.protocol != "sctp"
    )
    workdir = service.working_dir or str(spec.project_dir)
    return ServiceConfig(
        name=service.name,
        launch=Launch(
            argv=command.argv,
            env=env,
            cwd=workdir,
            netns=netns,
            hosts=hosts,
            resolv=resolv,
            hostname=service.hostname or service.name,
            user=service.user,
        ),
        restart=restart_policy(service),
        healthcheck=health,
        depends_on=tuple((d.service, d.condition) for d in service.depends_on),
        start_delay=service.start_delay,
        ports=ports,
        desired="running",
        generation=generation,
        hosts_extras=extras_to_json(hosts_extras(service)),
    )


def ignored(spec: ClusterSpec) -> list[str]:
    """One-line notices for what the netns backend does not act on."""
    notes = []
    imaged = [s.name for s in spec.services if s.image or s.build]
    if imaged:
        notes.append(
            f"`image`/`build` ignored on netns ({', '.join(imaged)}): commands run on this "
            "host's filesystem"
        )
    mounted = [s.name for s in spec.services if s.volumes]
    if mounted:
        notes.append(f"`volumes` ignored on netns ({', '.join(mounted)}): the host's files")
    sctp = [s.name for s in spec.services if any(p.protocol == "sctp" for p in s.ports)]
    if sctp:
        notes.append(f"SCTP `ports` are not forwarded on netns ({', '.join(sctp)})")
    return [*notes, *container_notes(spec)]


__all__ = [
    "Command",
    "dockerfile_command",
    "extras_from_json",
    "hosts_extras",
    "ignored",
    "service_command",
    "service_config",
]
