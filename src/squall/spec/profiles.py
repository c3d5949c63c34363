"""Which services a command works on: profiles, services named, scale overrides.

Compose's rules: a service without `profiles` is always enabled; one with profiles only
when one of them is enabled (`--profile`, `COMPOSE_PROFILES`, `*` for all); a service
named on the command line is enabled with its profiles, and pulls in what it depends
on. An enabled service that needs a disabled one is an error (unless its `depends_on`
entry says `required: false`, which drops the dependency).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import NoReturn

from squall.errors import Location, SpecError, UsageError
from squall.spec.container import MAX_SCALE
from squall.spec.graph import edges
from squall.spec.model import ServiceSpec
from squall.spec.node import Node, suggestion

ALL_PROFILES = "*"


@dataclass(frozen=True)
class Selection:
    """What the command line chose, for the spec to apply."""

    profiles: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    """Services named explicitly (`up api db`): enabled whatever their profiles."""
    scale: Mapping[str, int] = field(default_factory=dict)
    """`--scale SVC=N` overrides of `deploy.replicas`."""


@dataclass(frozen=True)
class Selected:
    services: tuple[ServiceSpec, ...]
    declared_profiles: tuple[str, ...]
    active_profiles: tuple[str, ...]


def select(
    services: Sequence[ServiceSpec], nodes: Mapping[str, Node], selection: Selection
) -> Selected:
    """The enabled services, with scale overrides applied.

    Raises:
        UsageError: a named or scaled service does not exist, or a scale is out of range.
        SpecError: an enabled service needs a disabled one (at the line that says so), or
            a service with a fixed `container_name` runs more than one container.
    """
    by_name = {service.name: service for service in services}
    for name in (*selection.services, *selection.scale):
        if name not in by_name:
            raise UsageError(f"no such service: {name!r}{suggestion(name, by_name)}")
    active = set(selection.profiles)
    for name in selection.services:
        active.update(by_name[name].profiles)
    enabled = {
        s.name
        for s in services
        if not s.profiles or ALL_PROFILES in active or active.intersection(s.profiles)
    }
    _pull_in(selection.services, by_name, enabled)
    chosen = [_checked(by_name[name], enabled, by_name) for name in sorted(enabled)]
    chosen = [_scaled(service, selection.scale, nodes) for service in chosen]
    declared = sorted({profile for s in services for profile in s.profiles})
    return Selected(tuple(chosen), tuple(declared), tuple(sorted(active - {ALL_PROFILES})))


def _pull_in(named: Sequence[str], by_name: Mapping[str, ServiceSpec], enabled: set[str]) -> None:
    """Services named explicitly bring what they depend on, transitively."""
    waiting = list(named)
    while waiting:
        service = by_name[waiting.pop()]
        for edge in edges(service):
            if edge.needs in by_name and edge.needs not in enabled:
                enabled.add(edge.needs)
                waiting.append(edge.needs)


def _checked(
    service: ServiceSpec, enabled: set[str], by_name: Mapping[str, ServiceSpec]
) -> ServiceSpec:
    kept = []
    for dependency in service.depends_on:
        if dependency.service in enabled:
            kept.append(dependency)
        elif dependency.required:
            _disabled(service, dependency.service, by_name, dependency.location)
    for link in service.links:
        if link.service not in enabled:
            _disabled(service, link.service, by_name, link.location)
    if len(kept) == len(service.depends_on):
        return service
    return replace(service, depends_on=tuple(kept))


def _disabled(
    service: ServiceSpec, needs: str, by_name: Mapping[str, ServiceSpec], where: Location | None
) -> NoReturn:
    """Compose's error, at the line of the dependency."""
    profiles = " ".join(by_name[needs].profiles)
    raise SpecError(
        f"service {needs!r} is required by {service.name!r} but is disabled;"
        f" it is enabled by the profiles [{profiles}] (--profile or COMPOSE_PROFILES)",
        where or service.location,
    )


def _scaled(
    service: ServiceSpec, scale: Mapping[str, int], nodes: Mapping[str, Node]
) -> ServiceSpec:
    if service.name in scale:
        count = scale[service.name]
        if not 0 <= count <= MAX_SCALE:
            raise UsageError(f"--scale {service.name}={count}: expected 0 to {MAX_SCALE}")
        service = replace(service, scale=count)
    if service.scale > 1 and service.container_name is not None:
        node = nodes[service.name].mapping()["container_name"]
        node.fail(
            f"{service.name!r} runs {service.scale} containers, which cannot share"
            f" the container name {service.container_name!r}"
        )
    return service
