"""Which supervisor reports say a service started again. Pure.

The supervisor rewrites its report (`supervisor.status.json`, atomically) on every
change; a service that runs with another pid than in the last report read, or that
started after `since`, (re)started: by its `restart:` policy after a crash, by `squall
restart`, or by the supervisor after its own restart.
"""

from __future__ import annotations

from collections.abc import Mapping

from squall.runtime.base import ServiceChange
from squall.runtime.netns.config import ServiceReport, SupervisorReport

POLL_SECONDS = 0.05
"""How often the report's mtime is looked at: a `stat`, no read, between changes."""


def started(
    before: Mapping[str, ServiceReport], after: SupervisorReport, since: float | None = None
) -> list[ServiceChange]:
    """Services running in `after` under a pid that `before` did not show (or, when
    `since` is given, started after it)."""
    changes = []
    for name, service in sorted(after.services.items()):
        if service.state != "running" or service.pid is None:
            continue
        previous = before.get(name)
        moved = previous is not None and previous.pid != service.pid
        fresh = previous is None and since is not None and (service.started_at or 0) >= since
        if moved or fresh:
            changes.append(ServiceChange(name, "start", service.started_at or 0.0))
    return changes


__all__ = ["POLL_SECONDS", "started"]
