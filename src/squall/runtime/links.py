"""Docker's legacy link variables (`links:`), which both backends give a service.

The engine only sets them on its default bridge; Squall's networks are user networks,
so each backend finds the linked service's address and exposed ports (`LinkTarget`)
and `link_environment` spells the variables the way the engine does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LinkTarget:
    """What a linking container learns about a linked one (Docker's legacy link env)."""

    alias: str
    container: str
    ip: str | None
    ports: tuple[tuple[int, str], ...]
    """Exposed (port, protocol) pairs of the linked container, sorted."""
    environment: Mapping[str, str] = field(default_factory=dict)


def link_environment(container: str, targets: Sequence[LinkTarget]) -> dict[str, str]:
    """Docker's legacy link variables, e.g. `SERVER_PORT_10000_TCP_ADDR=172.18.0.2`.

    Same names as the engine gives on its default bridge (which user networks lack):
    `<ALIAS>_NAME`, `<ALIAS>_PORT`, `<ALIAS>_PORT_<p>_<PROTO>[_ADDR|_PORT|_PROTO]`,
    and `<ALIAS>_ENV_<VAR>` for the linked service's own environment.
    """
    env: dict[str, str] = {}
    for target in targets:
        prefix = target.alias.upper().replace("-", "_").replace(".", "_")
        env[f"{prefix}_NAME"] = f"/{container}/{target.alias}"
        for key, value in sorted(target.environment.items()):
            env[f"{prefix}_ENV_{key}"] = value
        if target.ip is None:
            continue
        for index, (port, proto) in enumerate(target.ports):
            url = f"{proto}://{target.ip}:{port}"
            if index == 0:
                env[f"{prefix}_PORT"] = url
            base = f"{prefix}_PORT_{port}_{proto.upper()}"
            env[base] = url
            env[f"{base}_ADDR"] = target.ip
            env[f"{base}_PORT"] = str(port)
            env[f"{base}_PROTO"] = proto
    return env


__all__ = ["LinkTarget", "link_environment"]
