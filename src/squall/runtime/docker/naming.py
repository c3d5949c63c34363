"""Names and labels of what the Docker backend creates. Pure: no engine, no I/O.

Names follow Docker Compose v2 so a user finds the same things under the same names:

- containers `<project>-<service>-<n>` (n = 1.. for each replica) unless the service
  sets `container_name` (then it runs one);
- networks `<project>_<network>` unless the file gives the network a `name:` (its
  `declared_name`, or `external_name` for an external one) or it is `external`;
- volumes `<project>_<volume>` likewise.

Everything created carries `io.squall.project` and compose's own labels, so `status`
and `down` find it again from the engine alone and `docker compose ps` lists it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from squall.spec.model import NetworkSpec, ServiceSpec, VolumeSpec

PROJECT_LABEL = "io.squall.project"
SERVICE_LABEL = "io.squall.service"
NETWORK_LABEL = "io.squall.network"
VOLUME_LABEL = "io.squall.volume"
HASH_LABEL = "io.squall.config-hash"
NETWORKS_LABEL = "io.squall.networks"
"""On containers: `name=engine_name,...` for every cluster network it was created with."""

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_NUMBER = "com.docker.compose.container-number"
COMPOSE_ONEOFF = "com.docker.compose.oneoff"
COMPOSE_NETWORK = "com.docker.compose.network"
COMPOSE_VOLUME = "com.docker.compose.volume"
COMPOSE_HASH = "com.docker.compose.config-hash"


def project_filter(project: str) -> list[str]:
    """The engine's label filter that selects one project's objects."""
    return [f"{PROJECT_LABEL}={project}"]


def container_name(project: str, service: ServiceSpec, number: int = 1) -> str:
    return service.container_name or f"{project}-{service.name}-{number}"


def container_number(labels: Mapping[str, str]) -> int | None:
    """A container's number among its service's replicas (compose's label)."""
    text = labels.get(COMPOSE_NUMBER, "")
    return int(text) if text.isdigit() else None


def network_name(project: str, network: NetworkSpec) -> str:
    return _engine_name(
        project, network.name, network.external, network.external_name or network.declared_name
    )


def adhoc_network_name(project: str, name: str) -> str:
    """Engine name of a network made with `squall net create NAME`."""
    return f"{project}_{name}"


def volume_name(project: str, volume: VolumeSpec) -> str:
    return _engine_name(
        project, volume.name, volume.external, volume.external_name or volume.declared_name
    )


def _engine_name(project: str, name: str, external: bool, external_name: str | None) -> str:
    """A network's or volume's engine name: its `name:` if the file gives one, its own
    name if it is external, else compose's `<project>_<name>`."""
    if external_name:
        return external_name
    if external:
        return name
    return f"{project}_{name}"


def build_tag(project: str, service: ServiceSpec) -> str:
    """The image a service with `build:` runs: its `image:` if given, else compose's name."""
    return service.image or f"{project}-{service.name}"


def container_labels(
    project: str,
    service: ServiceSpec,
    *,
    networks: Mapping[str, str],
    number: int = 1,
) -> dict[str, str]:
    """Labels for a service's container (without the config hash, added last)."""
    labels = dict(service.labels)
    labels.update(
        {
            PROJECT_LABEL: project,
            SERVICE_LABEL: service.name,
            NETWORKS_LABEL: ",".join(f"{k}={v}" for k, v in sorted(networks.items())),
            COMPOSE_PROJECT: project,
            COMPOSE_SERVICE: service.name,
            COMPOSE_NUMBER: str(number),
            COMPOSE_ONEOFF: "False",
        }
    )
    return labels


def parse_networks_label(value: str | None) -> dict[str, str]:
    """Inverse of the `io.squall.networks` label: engine name -> cluster name."""
    result: dict[str, str] = {}
    for item in (value or "").split(","):
        name, sep, engine = item.partition("=")
        if sep and name and engine:
            result[engine] = name
    return result


def network_labels(
    project: str, name: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    return _object_labels(project, name, extra, NETWORK_LABEL, COMPOSE_NETWORK)


def volume_labels(
    project: str, name: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    return _object_labels(project, name, extra, VOLUME_LABEL, COMPOSE_VOLUME)


def _object_labels(
    project: str, name: str, extra: Mapping[str, str] | None, label: str, compose_label: str
) -> dict[str, str]:
    """The file's own labels, then Squall's and compose's: the project and the name."""
    labels = dict(extra or {})
    labels.update(
        {PROJECT_LABEL: project, label: name, COMPOSE_PROJECT: project, compose_label: name}
    )
    return labels


def config_hash(document: object) -> str:
    """A stable digest of everything that makes a container what it is.

    The backend hashes the full create request (config, extra network attachments,
    the image id), so any change a user could see, including a rebuilt image or a
    linked service's new address, recreates the container on the next `up`.
    """
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
