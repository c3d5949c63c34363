"""What `squall hosts check` says of one engine: reachable, version, Swarm, kernel,
agent and clock. Reading only: nothing is created on any engine."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from squall.errors import BackendError
from squall.linux.procs import in_container
from squall.runtime.docker.agent import AGENT_LABEL
from squall.runtime.docker.engine import JSON, DockerEngine
from squall.spec.model import HostSpec


@dataclass(frozen=True)
class HostReport:
    name: str
    engine: str
    reachable: bool
    error: str | None = None
    version: str | None = None
    swarm: str | None = None
    """inactive | active | pending | error | locked"""
    role: str | None = None
    """manager | worker, inside a Swarm."""
    kernel: str | None = None
    same_kernel: bool | None = None
    """True: proved from a running container; False: disproved; None: no container to
    prove it with."""
    agent: str = "absent"
    """absent | running | exited ... (the state of this project's agent container)."""
    clock_offset: float | None = None
    """The engine's clock minus this machine's, in seconds (half the round trip off)."""


def check_host(host: HostSpec, engine: DockerEngine, project: str | None) -> HostReport:
    """One engine, asked through its API; an engine that does not answer is a report
    with `reachable` False and the reason, not an error."""
    try:
        before = time.time()
        info = engine.info()
        after = time.time()
        version = str(engine.version().get("Version", ""))
        containers = engine.containers([])
        agent = "absent"
        if project is not None:
            agents = engine.containers([f"{AGENT_LABEL}={project}"])
            agent = str(agents[0].get("State", "unknown")) if agents else "absent"
        same = _same_kernel(engine, containers)
    except BackendError as exc:
        return HostReport(host.name, host.engine, reachable=False, error=exc.message)
    swarm = info.get("Swarm") or {}
    return HostReport(
        name=host.name,
        engine=host.engine,
        reachable=True,
        version=version,
        swarm=str(swarm.get("LocalNodeState") or "inactive"),
        role=("manager" if swarm.get("ControlAvailable") else "worker")
        if swarm.get("LocalNodeState") == "active"
        else None,
        kernel=str(info.get("KernelVersion") or "") or None,
        same_kernel=same,
        agent=agent,
        clock_offset=_offset(str(info.get("SystemTime") or ""), before, after),
    )


def _same_kernel(engine: DockerEngine, containers: list[JSON]) -> bool | None:
    running = [c for c in containers if c.get("State") == "running"]
    if not running:
        return None
    info = engine.inspect_container(str(running[0]["Id"])) or {}
    pid = int((info.get("State") or {}).get("Pid") or 0)
    return in_container(str(info.get("Id", "")), pid)


def _offset(system_time: str, before: float, after: float) -> float | None:
    """Engine time minus ours at the middle of the request (RFC 3339, nanoseconds cut)."""
    if not system_time:
        return None
    text = system_time.replace("Z", "+00:00")
    if "." in text:
        head, _, rest = text.partition(".")
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        stamp = datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
    return stamp - (before + after) / 2
