"""What `status` and `net ls` show on the netns backend, from the supervisor's report
and the topology read back from the kernel. Pure: the backend does the reading.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from squall.runtime.base import NetworkAddress, NetworkState, ServiceState
from squall.runtime.netns import naming
from squall.runtime.netns.config import ServiceReport, SupervisorConfig, SupervisorReport
from squall.runtime.netns.topology import Topology

_STATE_NAMES = {"waiting": "created", "blocked": "created"}


def service_states(
    project: str,
    topology: Topology,
    config: SupervisorConfig | None,
    report: SupervisorReport | None,
    unsupervised: Mapping[str, Sequence[int]],
) -> list[ServiceState]:
    """Every service with a namespace or a config, sorted by name.

    Args:
        report: the live supervisor's report (None when it is gone).
        unsupervised: without a supervisor, the pids living in each service's
            namespace: a service counts as running while any process lives there.
    """
    names = set(topology.namespaces) | (set(config.services) if config else set())
    states = []
    for name in sorted(names):
        cfg = config.services.get(name) if config else None
        netns_path = cfg.launch.netns if cfg else naming.netns_path(project, name)
        seen = report.services.get(name) if report else None
        states.append(_state(project, name, topology, netns_path, seen, unsupervised.get(name, ())))
    return states


def _state(
    project: str,
    name: str,
    topology: Topology,
    netns_path: str | None,
    seen: ServiceReport | None,
    pids: Sequence[int],
) -> ServiceState:
    if seen is not None:
        state = _STATE_NAMES.get(seen.state, seen.state)
        pid, health, ports = seen.pid, seen.health, seen.ports
    else:
        found = sorted(pids)
        state = "running" if found else "exited"
        pid, health, ports = (found[0] if found else None), None, ()
    owner = _owner(project, name, netns_path)
    addresses = tuple(
        NetworkAddress(a.network, str(a.ip), a.prefix_len, (name, *a.aliases))
        for a in sorted(topology.of_service(owner), key=lambda a: a.network)
    )
    return ServiceState(
        service=name,
        container=naming.netns_name(project, name),
        id=str(pid) if pid else None,
        state=state,
        health=health,
        addresses=addresses,
        pid=pid,
        netns=netns_path if state in ("running", "paused") else None,
        image=None,
        ports=tuple(ports),
    )


def _owner(project: str, name: str, netns_path: str | None) -> str:
    """The service whose namespace (and so addresses) `name` uses."""
    if netns_path:
        owner = naming.service_of_netns(project, os.path.basename(netns_path))
        if owner:
            return owner
    return name


def network_states(topology: Topology) -> list[NetworkState]:
    return [
        NetworkState(
            name=net.name,
            backend_name=net.bridge,
            id=None,
            driver="bridge",
            subnets=(str(net.subnet),),
            internal=net.internal,
            external=False,
            services=tuple(a.service for a in topology.on_network(net.name)),
        )
        for net in topology.networks
    ]


__all__ = ["network_states", "service_states"]
