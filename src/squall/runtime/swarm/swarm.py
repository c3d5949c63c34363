"""The Swarm under a cluster on several hosts: made if the hosts are in none, used as
it is otherwise, and left by `down` only when Squall made it for this project.

Whether Squall made it is read from the Swarm itself (a label in its spec), so a crash
or a lost state directory does not turn a Swarm Squall made into one it must keep, nor
the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from squall.errors import BackendError
from squall.runtime.base import Progress
from squall.runtime.docker.engine import DockerEngine
from squall.spec.model import HostSpec

MADE_LABEL = "io.squall.swarm"
"""On a Swarm Squall made: `io.squall.swarm=<project>`."""
SWARM_PORT = 2377


@dataclass(frozen=True)
class Membership:
    """Where one host stands: its node state and whether it is a manager."""

    host: str
    state: str
    manager: bool
    cluster: str | None
    """The Swarm's id, when the host is in one."""


def membership(host: HostSpec, engine: DockerEngine) -> Membership:
    swarm = engine.info().get("Swarm") or {}
    state = str(swarm.get("LocalNodeState") or "inactive")
    cluster = (swarm.get("Cluster") or {}).get("ID")
    return Membership(host.name, state, bool(swarm.get("ControlAvailable")), cluster)


def ensure_swarm(
    project: str,
    hosts: Sequence[HostSpec],
    engines: Mapping[str, DockerEngine],
    progress: Progress,
) -> str:
    """Make the hosts one Swarm (or use theirs); the name of the manager Squall uses.

    Raises:
        BackendError: the hosts are in two different Swarms, or one is in a Swarm in
            which none of them is a manager, or the engine refused.
    """
    members = [membership(h, engines[h.name]) for h in hosts]
    clusters = {m.cluster for m in members if m.state == "active" and m.cluster}
    if len(clusters) > 1:
        raise BackendError(
            "the hosts are in different Swarms: "
            + ", ".join(f"{m.host} in {m.cluster}" for m in members if m.cluster)
        )
    managers = [m for m in members if m.state == "active" and m.manager]
    if clusters and not managers:
        raise BackendError(
            "the hosts' Swarm has no manager among them; add a manager host to x-squall.hosts"
        )
    by_name = {h.name: h for h in hosts}
    if managers:
        manager = by_name[managers[0].host]
    else:
        manager = hosts[0]
        progress.step(f"host {manager.name}", "making a Swarm (its manager)")
        engines[manager.name].init_swarm(manager.reach, {MADE_LABEL: project})
    info = engines[manager.name].inspect_swarm() or {}
    token = str((info.get("JoinTokens") or {}).get("Worker") or "")
    address = _manager_address(manager, engines[manager.name])
    for member in members:
        if member.host == manager.name or member.state == "active":
            continue
        host = by_name[member.host]
        progress.step(f"host {host.name}", f"joining the Swarm of {manager.name}")
        engines[host.name].join_swarm([address], token, host.reach)
    return manager.name


def _manager_address(manager: HostSpec, engine: DockerEngine) -> str:
    swarm = engine.info().get("Swarm") or {}
    node = str(swarm.get("NodeAddr") or manager.reach or "")
    if not node:
        raise BackendError(f"host {manager.name!r}: its Swarm address is unknown; set `address`")
    return f"{node}:{SWARM_PORT}"


def made_by(engine: DockerEngine) -> str | None:
    """The project whose `up` made the Swarm this manager runs, or None."""
    info = engine.inspect_swarm() or {}
    labels = (info.get("Spec") or {}).get("Labels") or {}
    made = labels.get(MADE_LABEL)
    return str(made) if made else None


def leave_swarm(
    hosts: Sequence[HostSpec], engines: Mapping[str, DockerEngine], manager: str
) -> None:
    """Every host leaves, the manager last (a Swarm Squall made has only these nodes)."""
    for host in hosts:
        if host.name != manager:
            engines[host.name].leave_swarm()
    engines[manager].leave_swarm()
