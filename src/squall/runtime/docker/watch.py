"""Which Engine events may leave a service of a project without its faults. Pure.

A container that starts has a new network namespace (a restart outside Squall, a
`restart:` policy after a crash, the engine coming back); one that joins or leaves a
network has a new address. Container events carry the container's labels; network
events do not (in Engine 20.10), only the container's id, so the caller asks the
engine whose it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from squall.runtime.base import ServiceChange
from squall.runtime.docker import naming

CONTAINER_ACTIONS: Final = ("start",)
NETWORK_ACTIONS: Final = ("connect", "disconnect")
FILTERS: Final = {
    "type": ["container", "network"],
    "event": [*CONTAINER_ACTIONS, *NETWORK_ACTIONS],
}
"""One stream for both kinds: filters on different keys are ANDed by the engine, and a
project label would drop every network event."""


def event_time(event: Mapping[str, Any]) -> float:
    nanos = event.get("timeNano")
    return int(nanos) / 1e9 if nanos else float(event.get("time") or 0)


def change_of(
    labels: Mapping[str, Any], project: str, event: Mapping[str, Any]
) -> ServiceChange | None:
    """What `event` means for `project`, given the labels of the container it is about."""
    service = labels.get(naming.SERVICE_LABEL)
    if labels.get(naming.PROJECT_LABEL) != project or not service:
        return None
    return ServiceChange(str(service), str(event.get("Action")), event_time(event))


def container_change(event: Mapping[str, Any], project: str) -> ServiceChange | None:
    """The change a container event means for `project` (its labels are in the event)."""
    if event.get("Type") != "container" or event.get("Action") not in CONTAINER_ACTIONS:
        return None
    return change_of((event.get("Actor") or {}).get("Attributes") or {}, project, event)


def network_container(event: Mapping[str, Any]) -> str | None:
    """The container a network connect/disconnect event is about."""
    if event.get("Type") != "network" or event.get("Action") not in NETWORK_ACTIONS:
        return None
    container = ((event.get("Actor") or {}).get("Attributes") or {}).get("container")
    return str(container) if container else None


__all__ = ["FILTERS", "change_of", "container_change", "event_time", "network_container"]
