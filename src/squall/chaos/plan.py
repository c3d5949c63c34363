"""A chaos run's timeline, made up front from the seed: pure, no cluster touched.

Blockade's chaos with Jepsen's partition shapes. The same seed on the same services
(sorted) gives the same timeline. A run is rounds: wait an `interval`, start
`at_once` faults (distinct kinds), hold them for `hold`, heal them, and so on until
`duration` is over.

Kinds: partition, slow, flaky, duplicate, stop, kill, pause. Holy services are never
touched; neutral ones are never partitioned.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final

from squall.errors import ChaosError, UsageError
from squall.faults.model import Partition
from squall.faults.partition import JEPSEN_SHAPES, describe_partition, jepsen
from squall.units import parse_duration

KINDS: Final[tuple[str, ...]] = ("partition", "slow", "flaky", "duplicate", "stop", "kill", "pause")
SHAPE_KINDS: Final = frozenset({"slow", "flaky", "duplicate"})
SERVICE_KINDS: Final = frozenset({"stop", "kill", "pause"})


@dataclass(frozen=True)
class Span:
    """A range to draw from: `1s..3s` (seconds) or `1..2` (counts)."""

    low: float
    high: float

    def draw(self, rng: random.Random) -> float:
        return self.low if self.low == self.high else rng.uniform(self.low, self.high)

    def __str__(self) -> str:
        return f"{self.low:g}..{self.high:g}"


def parse_span(text: str, flag: str) -> Span:
    """`MIN..MAX` or one value, as durations (`5s..30s`, `500ms`).

    Raises:
        UsageError: not a duration range, or MIN > MAX.
    """
    low, _, high = text.partition("..")
    lo = parse_duration(low.strip(), flag).seconds
    hi = parse_duration(high.strip(), flag).seconds if high else lo
    if lo < 0 or hi < lo:
        raise UsageError(f"{flag} {text}: use MIN..MAX with 0 <= MIN <= MAX")
    return Span(lo, hi)


def parse_count_span(text: str, flag: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?", text)
    if match is None:
        raise UsageError(f"{flag} {text}: use N or MIN..MAX (whole numbers)")
    lo = int(match[1])
    hi = int(match[2]) if match[2] else lo
    if lo < 1 or hi < lo:
        raise UsageError(f"{flag} {text}: use 1 <= MIN <= MAX")
    return lo, hi


def parse_kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise UsageError(f"--events {text}: choose from {','.join(KINDS)}")
    return kinds


@dataclass(frozen=True)
class Fault:
    """One fault of a round."""

    kind: str
    targets: tuple[str, ...] = ()
    partition: Partition | None = None

    def describe(self) -> str:
        if self.partition is not None:
            return describe_partition(self.partition)
        return f"{self.kind} {','.join(self.targets)}"

    def to_dict(self) -> dict[str, Any]:
        raw: dict[str, Any] = {"kind": self.kind, "targets": list(self.targets)}
        if self.partition is not None:
            raw["partition"] = self.partition.to_dict()
        return raw


@dataclass(frozen=True)
class Round:
    at: float
    """Seconds after the start of the run."""
    hold: float
    faults: tuple[Fault, ...]

    @property
    def until(self) -> float:
        return self.at + self.hold


@dataclass(frozen=True)
class ChaosPlan:
    seed: int
    duration: float
    kinds: tuple[str, ...]
    services: tuple[str, ...]
    rounds: tuple[Round, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "duration": self.duration,
            "kinds": list(self.kinds),
            "services": list(self.services),
            "rounds": [
                {
                    "at": round(r.at, 3),
                    "hold": round(r.hold, 3),
                    "faults": [f.to_dict() for f in r.faults],
                }
                for r in self.rounds
            ],
        }


def _partition(
    pool: Sequence[str], rng: random.Random, holy: Collection[str], neutral: Collection[str]
) -> Partition:
    shapes = list(JEPSEN_SHAPES)
    rng.shuffle(shapes)
    for shape in shapes:
        cut = jepsen(shape, pool, rng, holy, neutral)
        if cut:
            return cut
    return Partition()


def plan_chaos(
    services: Sequence[str],
    *,
    seed: int,
    duration: float,
    kinds: Sequence[str] = KINDS,
    interval: Span = Span(5.0, 30.0),
    hold: Span = Span(5.0, 30.0),
    at_once: tuple[int, int] = (1, 1),
    holy: Collection[str] = (),
    neutral: Collection[str] = (),
) -> ChaosPlan:
    """The whole timeline, from the seed alone: same inputs, same plan. Pure.

    Raises:
        ChaosError: no service may be touched, or the kinds cannot apply.
    """
    names = sorted(services)
    pool = [s for s in names if s not in holy]
    if not pool:
        raise ChaosError("chaos needs a service that is not holy")
    partitionable = [s for s in pool if s not in neutral]
    usable = [k for k in kinds if k != "partition" or len(partitionable) >= 2]
    if not usable:
        raise ChaosError("a partition needs two services that are neither holy nor neutral")
    rng = random.Random(seed)
    rounds: list[Round] = []
    t = interval.draw(rng)
    while t < duration:
        count = rng.randint(at_once[0], min(at_once[1], len(usable)))
        chosen = sorted(rng.sample(sorted(usable), count), key=KINDS.index)
        faults: list[Fault] = []
        down: set[str] = set()
        for kind in chosen:
            if kind == "partition":
                cut = _partition(names, rng, holy, neutral)
                if cut:
                    faults.append(Fault(kind, tuple(sorted({c.src for c in cut.cuts})), cut))
                continue
            candidates = [s for s in pool if kind not in SERVICE_KINDS or s not in down]
            if not candidates:
                continue
            target = rng.choice(candidates)
            if kind in SERVICE_KINDS:
                down.add(target)
            faults.append(Fault(kind, (target,)))
        held = min(hold.draw(rng), duration - t)
        rounds.append(Round(t, held, tuple(faults)))
        t += held + interval.draw(rng)
    return ChaosPlan(seed, duration, tuple(kinds), tuple(names), tuple(rounds))


__all__ = [
    "KINDS",
    "SERVICE_KINDS",
    "SHAPE_KINDS",
    "ChaosPlan",
    "Fault",
    "Round",
    "Span",
    "parse_count_span",
    "parse_kinds",
    "parse_span",
    "plan_chaos",
]
