"""Faults as a user asks for them (flag strings, group lists) -> faults as data.

The CLI and the Python API both take `--delay 100ms --to db` / `delay="100ms", to=["db"]`
and partition groups; this module is the one place that turns them into a `Shape` plus
the peer services, or into a `Partition`. It does no I/O.
"""

from __future__ import annotations

import random
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from squall.errors import UsageError
from squall.faults.model import (
    Direction,
    Partition,
    Proto,
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
from squall.faults.shaper_config import Distribution
from squall.units import parse_duration, parse_percent, parse_rate


@dataclass(frozen=True)
class ShapeRequest:
    """A shape and the services named with `--to` (resolved to addresses when applied)."""

    shape: Shape
    to_services: tuple[str, ...] = ()


def split_names(values: Iterable[str]) -> list[str]:
    """`["a,b", "c"]` -> `["a", "b", "c"]` (flags may be repeated or comma-joined)."""
    return [p.strip() for text in values for p in text.split(",") if p.strip()]


def build_shape(
    *,
    known_services: Collection[str],
    delay: str | None = None,
    jitter: str | None = None,
    distribution: str = "uniform",
    correlation: str | None = None,
    loss: str | None = None,
    loss_correlation: str | None = None,
    rate: str | None = None,
    duplicate: str | None = None,
    corrupt: str | None = None,
    reorder: str | None = None,
    to: Sequence[str] = (),
    port: str | None = None,
    proto: str | None = None,
    direction: str = "egress",
    duration: str | None = None,
    now: float | None = None,
) -> ShapeRequest:
    """A `Shape` from `squall shape`'s flag values (`"100ms"`, `"20%"`, `"50kbps"`).

    `to` holds service names and CIDRs; names of `known_services` become peer services,
    anything else must be an address or CIDR.

    Raises:
        UsageError: a value does not parse, or the combination makes no sense.
    """
    to_services: list[str] = []
    cidrs: list[str] = []
    for value in split_names(to):
        if value in known_services:
            to_services.append(value)
        else:
            cidrs.append(parse_peer(value))
    expires_at = None
    if duration is not None:
        parsed = parse_duration(duration, "--duration")
        if parsed.ns <= 0:
            raise UsageError(f"--duration {duration}: must be more than 0")
        expires_at = (time.time() if now is None else now) + parsed.seconds
    shape = Shape(
        delay=parse_duration(delay, "--delay") if delay else None,
        jitter=parse_duration(jitter, "--jitter") if jitter else None,
        distribution=cast(Distribution, distribution),
        correlation=parse_percent(correlation, "--correlation") if correlation else None,
        loss=parse_percent(loss, "--loss") if loss else None,
        loss_correlation=parse_percent(loss_correlation, "--loss-correlation")
        if loss_correlation
        else None,
        rate=parse_rate(rate, "--rate") if rate else None,
        duplicate=parse_percent(duplicate, "--duplicate") if duplicate else None,
        corrupt=parse_percent(corrupt, "--corrupt") if corrupt else None,
        reorder=parse_percent(reorder, "--reorder") if reorder else None,
        selector=Selector(
            peers=tuple(cidrs),
            ports=parse_ports(port) if port else (),
            proto=cast(Proto | None, proto),
            direction=cast(Direction, direction),
        ),
        expires_at=expires_at,
    )
    return ShapeRequest(shape, tuple(dict.fromkeys(to_services)))


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
    services: Sequence[str],
    *,
    known: Sequence[str],
    holy: Collection[str] = (),
    neutral: Collection[str] = (),
) -> Partition:
    """`squall isolate A [B...]`: each one named alone, everyone else together."""
    if not services:
        raise UsageError("name the services to isolate")
    if len(services) == 1:
        return isolate(services[0], known, holy, neutral)
    return blockade_partition([[s] for s in services], known, holy, neutral)


def describe_partition(cut: Partition) -> str:
    if not cut:
        return "no partition: every service reaches every other"
    if cut.groups:
        return f"partition ({cut.kind}): " + " | ".join(",".join(g) for g in cut.groups)
    arrows = ", ".join(f"{c.src}-/->{c.dst}" for c in cut.cuts)
    return f"partition ({cut.kind}): {arrows}"


__all__ = [
    "ShapeRequest",
    "build_isolation",
    "build_partition",
    "build_shape",
    "describe_partition",
    "split_names",
]
