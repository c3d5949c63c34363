"""Faults as a user asks for them (flag strings, group lists) -> faults as data.

Every front end hands over `--delay 100ms --to db` / `{"delay": "100ms", "to": ["db"]}`
/ `delay="100ms", to=["db"]` as the same `ShapeFields`, and partition groups as lists;
this module is the one place that turns them into a `Shape` plus the peer services, or
into a `Partition`. It does no I/O.
"""

from __future__ import annotations

import random
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from squall.chaos.plan import parse_seconds
from squall.errors import UsageError
from squall.faults.model import (
    Partition,
    Selector,
    Shape,
    parse_peer,
    parse_ports,
)
from squall.faults.partition import (
    blockade_partition,
    isolate,
    jepsen,
    one_way,
    random_partition,
)
from squall.ops.fields import ShapeFields
from squall.units import Duration, Percent, parse_duration, parse_percent, parse_rate, shown


@dataclass(frozen=True)
class ShapeAsked:
    """A shape and the services named with `--to` (resolved to addresses when applied)."""

    shape: Shape
    to_services: tuple[str, ...] = ()


def split_names(values: Iterable[str]) -> list[str]:
    """`["a,b", "c"]` -> `["a", "b", "c"]` (flags may be repeated or comma-joined)."""
    return [p.strip() for text in values for p in text.split(",") if p.strip()]


def build_shape(
    fields: ShapeFields, *, known_services: Collection[str], now: float | None = None
) -> ShapeAsked:
    """A `Shape` from `squall shape`'s flag values (`"100ms"`, `"20%"`, `"50kbps"`).

    `to` holds service names and CIDRs; names of `known_services` become peer services,
    anything else must be an address or CIDR.

    Raises:
        UsageError: a value does not parse, or the combination makes no sense.
    """
    to_services: list[str] = []
    cidrs: list[str] = []
    for value in split_names(fields.get("to", ())):
        if value in known_services:
            to_services.append(value)
        else:
            cidrs.append(parse_peer(value))
    expires_at = None
    duration = fields.get("duration")
    if duration is not None:
        seconds = parse_seconds(duration, "--duration")
        if seconds <= 0:
            raise UsageError(f"--duration {shown(duration)}: must be more than 0")
        expires_at = (time.time() if now is None else now) + seconds

    def percent(name: str) -> Percent | None:
        text = cast(str | None, fields.get(name))
        return parse_percent(text, "--" + name.replace("_", "-")) if text else None

    def duration_of(name: str) -> Duration | None:
        text = cast(str | None, fields.get(name))
        return parse_duration(text, "--" + name) if text else None

    rate = fields.get("rate")
    port = fields.get("port")
    shape = Shape(
        delay=duration_of("delay"),
        jitter=duration_of("jitter"),
        distribution=fields.get("distribution", "uniform"),
        correlation=percent("correlation"),
        loss=percent("loss"),
        loss_correlation=percent("loss_correlation"),
        rate=parse_rate(rate, "--rate") if rate else None,
        duplicate=percent("duplicate"),
        corrupt=percent("corrupt"),
        reorder=percent("reorder"),
        selector=Selector(
            peers=tuple(cidrs),
            ports=parse_ports(port) if port else (),
            proto=fields.get("proto"),
            direction=fields.get("direction", "egress"),
        ),
        expires_at=expires_at,
    )
    return ShapeAsked(shape, tuple(dict.fromkeys(to_services)))


def build_partition(
    groups: Sequence[Sequence[str]],
    *,
    services: Sequence[str],
    holy: Collection[str] = (),
    neutral: Collection[str] = (),
    one_way_cut: bool = False,
    pick_random: bool = False,
    jepsen_shape: str | None = None,
    seed: int | None = None,
    rng: random.Random | None = None,
) -> Partition:
    """`squall partition`'s forms: groups, `--one-way A B`, `--random`, `--shape NAME`.

    Raises:
        UsageError: not exactly one form, or names that are unknown or holy.
    """
    chosen = rng if rng is not None else random.Random(seed)
    cleaned = [[s for s in g if s] for g in groups]
    named = any(cleaned)
    modes = sum((named and not one_way_cut, pick_random, one_way_cut, jepsen_shape is not None))
    if modes == 0:
        raise UsageError("give groups (A,B C), or one of --random, --one-way A B, --shape NAME")
    if modes > 1:
        raise UsageError("groups, --random, --one-way and --shape exclude each other: pick one")
    if one_way_cut:
        if len(cleaned) != 2:
            raise UsageError("--one-way takes two groups: SOURCE[,SOURCE] DEST[,DEST]")
        pairs = [(src, dst) for src in cleaned[0] for dst in cleaned[1]]
        return one_way(pairs, services, holy)
    if pick_random:
        return random_partition(services, chosen, holy, neutral)
    if jepsen_shape is not None:
        return jepsen(jepsen_shape, services, chosen, holy, neutral)
    return blockade_partition(cleaned, services, holy, neutral)


def build_isolation(
    services: Sequence[Sequence[str]],
    *,
    known: Sequence[str],
    holy: Collection[str] = (),
    neutral: Collection[str] = (),
) -> Partition:
    """`squall isolate A [B...]`: each one named alone (the members of a replicated
    service together), everyone else together.

    Args:
        services: the members of each service named, one group each.
    """
    if not services:
        raise UsageError("name the services to isolate")
    if len(services) == 1 and len(services[0]) == 1:
        return isolate(services[0][0], known, holy, neutral)
    partition = blockade_partition([list(group) for group in services], known, holy, neutral)
    if len(services) > 1:
        return partition
    return Partition(cuts=partition.cuts, groups=partition.groups, kind="isolate")


def parse_scale(values: Iterable[str]) -> dict[str, int]:
    """`["api=3", "db=0"]` (`up --scale`) -> `{"api": 3, "db": 0}`; a later one wins.

    Raises:
        UsageError: an entry is not SERVICE=N with N a whole number.
    """
    scale: dict[str, int] = {}
    for text in values:
        name, sep, count = text.partition("=")
        if not sep or not name.strip() or not count.strip().isdigit():
            raise UsageError(f"--scale {text}: expected SERVICE=N (e.g. api=3)")
        scale[name.strip()] = int(count)
    return scale


__all__ = [
    "ShapeAsked",
    "build_isolation",
    "build_partition",
    "build_shape",
    "parse_scale",
    "split_names",
]
