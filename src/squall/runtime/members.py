"""The names service and fault commands take: services and their members. Pure.

A service of one container is its own one member (`db`). A replicated service's
members are its containers (`api-1`, `api-2`, ...): `api` means all of them, `api-2`
one. `db-1` also means `db`, the name Compose gives its container.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from squall.runtime.base import ServiceState

Members = Mapping[str, tuple[str, ...]]
"""Service -> its members, in replica order."""


def members_of(
    services: Iterable[str], states: Sequence[ServiceState]
) -> dict[str, tuple[str, ...]]:
    """Each service's members, from what the backend holds; a service without
    containers (not up yet, or scaled to 0) is its own one member."""
    numbered: dict[str, list[tuple[int, str]]] = {name: [] for name in services}
    for state in states:
        numbered.setdefault(state.service, [])
        if state.replica is not None:
            numbered[state.service].append((state.replica, state.member))
    return {
        name: tuple(member for _n, member in sorted(found)) or (name,)
        for name, found in sorted(numbered.items())
    }


def every_member(members: Members) -> list[str]:
    """All members of all services, services in order."""
    return [member for name in sorted(members) for member in members[name]]


def canonical(name: str, members: Members) -> str | None:
    """The service or member `name` means (`db-1` is `db`), None if it means none."""
    if name in members or any(name in found for found in members.values()):
        return name
    service, _, number = name.rpartition("-")
    if number == "1" and members.get(service) == (service,):
        return service
    return None


def expand(names: Iterable[str], members: Members) -> list[str]:
    """Members named: a service's name stands for each of its members; unknown names
    are kept (for the caller's own error)."""
    result: list[str] = []
    for name in names:
        known = canonical(name, members) or name
        result.extend(members.get(known, (known,)))
    return list(dict.fromkeys(result))


__all__ = ["Members", "canonical", "every_member", "expand", "members_of"]
