"""What a cluster uses, read from its spec: the networks each service joins, and the
networks and volumes `up` must find or make. Pure; both backends read it.
"""

from __future__ import annotations

from squall.errors import BackendError
from squall.spec.model import (
    DEFAULT_NETWORK,
    ClusterSpec,
    NetworkSpec,
    ServiceNetwork,
    ServiceSpec,
    VolumeSpec,
)


def service_networks(service: ServiceSpec) -> tuple[ServiceNetwork, ...]:
    """The cluster networks a service joins: compose's `default` when it names none."""
    if service.network_mode is not None:
        return ()
    return service.networks or (ServiceNetwork(DEFAULT_NETWORK),)


def used_networks(spec: ClusterSpec) -> tuple[NetworkSpec, ...]:
    """Networks `up` needs: those declared (and used or not) plus an implicit `default`."""
    declared = {n.name: n for n in spec.networks}
    for service in spec.services:
        for attachment in service_networks(service):
            if attachment.name not in declared:
                if attachment.name != DEFAULT_NETWORK:
                    raise BackendError(
                        f"service {service.name!r} uses network {attachment.name!r}, "
                        "which the cluster file does not declare",
                        service=service.name,
                    )
                declared[DEFAULT_NETWORK] = NetworkSpec(DEFAULT_NETWORK)
    return tuple(sorted(declared.values(), key=lambda n: n.name))


def used_volumes(spec: ClusterSpec) -> tuple[VolumeSpec, ...]:
    """Named volumes `up` needs: declared ones plus any a service names without declaring."""
    declared = {v.name: v for v in spec.volumes}
    for service in spec.services:
        for mount in service.volumes:
            if mount.type == "volume" and mount.source and mount.source not in declared:
                declared[mount.source] = VolumeSpec(mount.source)
    return tuple(sorted(declared.values(), key=lambda v: v.name))


__all__ = ["service_networks", "used_networks", "used_volumes"]
