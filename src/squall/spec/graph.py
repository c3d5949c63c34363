"""The order services start in, from `depends_on` and `links`.

Both the loader (to reject cycles with a message naming them) and the session (to
start services level by level) read the same edges from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from squall.errors import Location, SpecError
from squall.spec.model import ClusterSpec, ServiceSpec, SourceFormat

SERVICE_PREFIX: dict[SourceFormat, str] = {
    "compose": "services.",
    "compose-v1": "",
    "blockade": "containers.",
}


@dataclass(frozen=True)
class Edge:
    """`service` must start after `needs`; written at `location` under `key`."""

    service: str
    needs: str
    location: Location | None
    key: str


def edges(service: ServiceSpec) -> list[Edge]:
    """The services `service` waits for, one edge per name (links first)."""
    found: dict[str, Edge] = {}
    for link in service.links:
        found.setdefault(link.service, Edge(service.name, link.service, link.location, "links"))
    for dependency in service.depends_on:
        found.setdefault(
            dependency.service,
            Edge(service.name, dependency.service, dependency.location, "depends_on"),
        )
    return list(found.values())


def find_cycle(services: Sequence[ServiceSpec]) -> list[Edge] | None:
    """The edges of one dependency cycle, starting at the smallest name, or None."""
    graph = {service.name: edges(service) for service in services}
    finished: set[str] = set()
    stack: list[str] = []  # services on the current path
    path: list[Edge] = []  # path[i] leads from stack[i] to stack[i + 1]

    def visit(name: str) -> list[Edge] | None:
        stack.append(name)
        for edge in graph[name]:
            if edge.needs in stack:
                return [*path[stack.index(edge.needs) :], edge]
            if edge.needs in graph and edge.needs not in finished:
                path.append(edge)
                cycle = visit(edge.needs)
                if cycle:
                    return cycle
                path.pop()
        stack.pop()
        finished.add(name)
        return None

    for name in sorted(graph):
        if name not in finished:
            cycle = visit(name)
            if cycle:
                first = min(range(len(cycle)), key=lambda i: cycle[i].service)
                return cycle[first:] + cycle[:first]
    return None


def check_acyclic(services: Sequence[ServiceSpec], prefix: str) -> None:
    """Raises: SpecError naming the cycle (`a -> b -> a`) at its first dependency.

    `prefix` leads the field path to a service: `services.`, `containers.`, or
    nothing for v1 files, whose services sit at the top level.
    """
    cycle = find_cycle(services)
    if cycle is None:
        return
    names = " -> ".join([edge.service for edge in cycle] + [cycle[0].service])
    first = cycle[0]
    location = first.location or next(s.location for s in services if s.name == first.service)
    raise SpecError(
        f"dependency cycle: {names}", location, field=f"{prefix}{first.service}.{first.key}"
    )


def start_order(spec: ClusterSpec) -> list[list[str]]:
    """Services in levels: each level needs only services of earlier levels.

    Names are sorted within a level, so the order is the same on every run.

    Raises:
        SpecError: the services depend on each other in a cycle.
    """
    check_acyclic(spec.services, SERVICE_PREFIX[spec.format])
    waiting = {
        service.name: {edge.needs for edge in edges(service)} & set(spec.service_names)
        for service in spec.services
    }
    levels: list[list[str]] = []
    while waiting:
        ready = sorted(name for name, needs in waiting.items() if not needs)
        levels.append(ready)
        for name in ready:
            del waiting[name]
        for needs in waiting.values():
            needs.difference_update(ready)
    return levels


def needed(spec: ClusterSpec, names: Sequence[str], *, dependencies: bool = True) -> list[str]:
    """The services `up SERVICE...` starts, sorted: those named and, unless
    `dependencies` is False (`--no-deps`), what they need, transitively (`depends_on`,
    `links`, `network_mode: service:X`), as Compose does.
    """
    chosen = set(names)
    waiting = list(names) if dependencies else []
    while waiting:
        service = spec.service(waiting.pop())
        if service is None:
            continue
        wanted = {edge.needs for edge in edges(service)}
        if service.network_mode and service.network_mode.startswith("service:"):
            wanted.add(service.network_mode.split(":", 1)[1])
        for name in sorted(wanted - chosen):
            chosen.add(name)
            waiting.append(name)
    return sorted(chosen & set(spec.service_names))
