"""Zones and their WAN links as shape requests: what `up` puts in force for `wan:`.

A link between zones A and B gives every service of A, towards every service of B,
half the round trip (and half the jitter) on its way out, and the same the other way,
so a round trip between them takes `rtt`; loss and rate apply on each way as written.
Zones name services, or hosts whose services they then hold (on one host, zones of
services emulate regions). Pure: the requests are run by `Operations`.
"""

from __future__ import annotations

from squall.ops.fields import ShapeFields
from squall.ops.requests import ShapeRequest, Targets
from squall.spec.hosts import place, zone_of
from squall.spec.model import ClusterSpec, WanLink
from squall.units import Duration, parse_duration

ORIGIN = "wan"


def zone_members(spec: ClusterSpec) -> dict[str, tuple[str, ...]]:
    """zone -> its services (sorted), a service by its own name or by its host's."""
    placement = place(spec)
    members: dict[str, list[str]] = {zone: [] for zone in spec.options.zones}
    for service in spec.services:
        zone = zone_of(spec, service.name, service.host or placement.host_of(service.name))
        if zone is not None:
            members[zone].append(service.name)
    return {zone: tuple(sorted(names)) for zone, names in members.items()}


def _half(text: str) -> str:
    duration = parse_duration(text)
    return str(Duration(duration.ns // 2, duration.unit))


def link_requests(link: WanLink, members: dict[str, tuple[str, ...]]) -> list[ShapeRequest]:
    """The two shapes of one link (none where a zone holds no service)."""
    requests = []
    for source, target in (link.zones, link.zones[::-1]):
        if not members.get(source) or not members.get(target):
            continue
        fields: ShapeFields = {"delay": _half(link.rtt), "to": members[target]}
        if link.jitter:
            fields["jitter"] = _half(link.jitter)
        if link.loss:
            fields["loss"] = link.loss
        if link.rate:
            fields["rate"] = link.rate
        requests.append(ShapeRequest(Targets(members[source]), fields, origin=ORIGIN))
    return requests


def wan_requests(spec: ClusterSpec) -> list[ShapeRequest]:
    """Every link of the file's `wan:` (sorted by its pair of zones)."""
    members = zone_members(spec)
    return [request for link in spec.options.wan for request in link_requests(link, members)]
