"""`start`, `stop`, `restart`, `kill`, `pause`, `unpause` as changes to the supervisor's
config, and when each counts as done. Pure: the backend writes the config and waits.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence
from dataclasses import replace

from squall.errors import BackendError
from squall.runtime.base import Action
from squall.runtime.netns.config import ServiceConfig, ServiceReport, SupervisorReport

ACTIVE = ("running", "paused", "restarting")
SIGKILL = int(signal.SIGKILL)


def signal_number(name: str | None) -> int:
    """`KILL`, `sigterm`, `9`... as a number (default SIGKILL).

    Raises:
        BackendError: no such signal.
    """
    if name is None:
        return SIGKILL
    text = name.upper()
    if text.isdigit():
        return int(text)
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return int(getattr(signal.Signals, text))
    except AttributeError:
        raise BackendError(f"unknown signal {name!r}") from None


def is_active(seen: ServiceReport | None) -> bool:
    return seen is not None and seen.state in ACTIVE


def acted(
    cfg: ServiceConfig, seen: ServiceReport | None, action: Action, signum: int | None = None
) -> ServiceConfig:
    """What the supervisor must be told so that `action` happens to one service.

    A new generation asks for a (re)start; a kill is sent once per new nonce.

    Raises:
        BackendError: pausing a service that is not running.
    """
    if action is Action.START:
        return replace(cfg, desired="running", generation=cfg.generation + (not is_active(seen)))
    if action is Action.STOP:
        return replace(cfg, desired="stopped")
    if action is Action.RESTART:
        return replace(cfg, desired="running", generation=cfg.generation + 1)
    if action is Action.KILL:
        signum = SIGKILL if signum is None else signum
        nonce = (cfg.kill[0] if cfg.kill else 0) + 1
        killed = replace(cfg, kill=(nonce, signum))
        return replace(killed, desired="stopped") if signum == SIGKILL else killed
    if action is Action.PAUSE:
        if not is_active(seen):
            raise BackendError(f"service {cfg.name!r} is not running", service=cfg.name)
        return replace(cfg, desired="paused")
    return replace(cfg, desired="running")  # UNPAUSE


def settled(
    report: SupervisorReport,
    wanted: Mapping[str, ServiceConfig],
    services: Sequence[str],
    action: Action,
) -> bool:
    """Whether the supervisor's report shows `action` done for every one of `services`."""
    return all(_settled(report.services.get(n), wanted[n], action) for n in services)


def _settled(seen: ServiceReport | None, cfg: ServiceConfig, action: Action) -> bool:
    if seen is None:
        return False
    if cfg.desired == "stopped":
        return seen.pid is None and seen.state not in ACTIVE
    if action is Action.KILL:
        return True
    if cfg.desired == "paused":
        return seen.state == "paused"
    return seen.generation >= cfg.generation and seen.state not in ("waiting", "paused")


__all__ = ["ACTIVE", "acted", "is_active", "settled", "signal_number"]
