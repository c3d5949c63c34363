"""One `DockerEngine` per host of the cluster file: its URL and TLS files as written."""

from __future__ import annotations

from collections.abc import Sequence

from squall.errors import EngineUnavailable
from squall.runtime.docker.engine import DockerEngine
from squall.spec.model import HostSpec


def engine_of(host: HostSpec) -> DockerEngine:
    """The engine of `host`; contacts nothing until first used."""
    return DockerEngine(host.engine, tls=host.tls)


def engines_of(hosts: Sequence[HostSpec]) -> dict[str, DockerEngine]:
    return {host.name: engine_of(host) for host in hosts}


def unreachable(host: HostSpec, exc: EngineUnavailable) -> EngineUnavailable:
    """The one line that says which host did not answer."""
    reason = exc.message.split(": ", 1)[-1]
    return EngineUnavailable(f"host {host.name!r} ({host.engine}) does not answer: {reason}")
