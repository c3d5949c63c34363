"""A chaos run's timeline, made up front from the seed: pure, no cluster touched.

Blockade's chaos with Jepsen's partition shapes. The same seed on the same services
(sorted) gives the same timeline. A run is rounds: wait an `interval`, pick `at_once`
different services and give each a fault (its kind drawn from `kinds`, with
repetition, as Blockade drew an event per container), hold them for `hold`, heal
them, and so on until `duration` is over.

Kinds: partition (a Jepsen shape over the cluster), isolate (the service cut off from
every other, Blockade's PARTITION), slow, flaky, duplicate, stop, kill, pause. The
partition kinds drawn in one round make one partition (the kernel holds one at a
time): every isolated service alone, and the Jepsen shape's cuts besides. Holy
services are never touched; neutral ones are never partitioned.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final

from squall.errors import ChaosError, UsageError
from squall.faults.model import Partition
from squall.faults.partition import JEPSEN_SHAPES, blockade_partition, describe_partition, jepsen
from squall.units import parse_duration, shown

KINDS: Final[tuple[str, ...]] = (
    "partition", "isolate", "slow", "flaky", "duplicate", "stop", "kill", "pause",
)  # fmt: skip
PARTITION_KINDS: Final = frozenset({"partition", "isolate"})
SHAPE_KINDS: Final = frozenset({"slow", "flaky", "duplicate"})
SERVICE_KINDS: Final = frozenset({"stop", "kill", "pause"})
MAX_SECONDS: Final = 366 * 86400
"""The longest duration, interval or hold a run takes (a year): past it, floats overflow."""
MAX_ROUNDS: Final = 20_000
"""A timeline longer than this is refused: its intervals and holds are too short."""


@dataclass(frozen=True)
class Span:
    """A range to draw from: `1s..3s` (seconds) or `1..2` (counts)."""

    low: float
    high: float

    def draw(self, rng: random.Random) -> float:
        return self.low if self.low == self.high else rng.uniform(self.low, self.high)

    def __str__(self) -> str:
        return f"{self.low:g}..{self.high:g}"


def parse_seconds(text: str, flag: str) -> float:
    """One duration of a run, in seconds, at most `MAX_SECONDS`.

    Raises:
        UsageError: not a duration, or longer than a year.
    """
    duration = parse_duration(text, flag)
    if duration.ns > MAX_SECONDS * 10**9:
        raise UsageError(f"{flag} {shown(text)}: at most {MAX_SECONDS // 86400} days")
    return duration.seconds


def parse_span(text: str, flag: str) -> Span:
    """`MIN..MAX` or one value, as durations (`5s..30s`, `500ms`).

    Raises:
        UsageError: not a duration range, or MIN > MAX.
    """
    low, _, high = text.partition("..")
    lo = parse_seconds(low.strip(), flag)
    hi = parse_seconds(high.strip(), flag) if high else lo
    if hi < lo:
        raise UsageError(f"{flag} {shown(text)}: use MIN..MAX with MIN <= MAX")
    return Span(lo, hi)


def parse_count_span(text: str, flag: str) -> tuple[int, int]:
    """`N` or `MIN..MAX`, whole numbers from 1.

    Raises:
        UsageError: not that form, or MIN > MAX.
    """
    match = re.fullmatch(r"\s*([0-9]{1,9})\s*(?:\.\.\s*([0-9]{1,9})\s*)?", text)
    if match is None:
        raise UsageError(f"{flag} {shown(text)}: use N or MIN..MAX (whole numbers)")
    lo = int(match[1])
    hi = int(match[2]) if match[2] else lo
    if lo < 1 or hi < lo:
        raise UsageError(f"{flag} {shown(text)}: use 1 <= MIN <= MAX")
    return lo, hi


def parse_kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise UsageError(f"--events {shown(text)}: choose from {','.join(KINDS)}")
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


def _jepsen_partition(
    names: Sequence[str], rng: random.Random, holy: Collection[str], neutral: Collection[str]
) -> Partition:
    shapes = list(JEPSEN_SHAPES)
    rng.shuffle(shapes)
    for shape in shapes:
        cut = jepsen(shape, names, rng, holy, neutral)
        if cut:
            return cut
    return Partition()


def round_partition(
    names: Sequence[str],
    *,
    isolated: Sequence[str],
    jepsen_shape: bool,
    rng: random.Random,
    holy: Collection[str] = (),
    neutral: Collection[str] = (),
) -> Partition:
    """The one partition of a round: each of `isolated` alone (Blockade's chaos put each
    PARTITION target in a partition of its own, the others in one more) and, with
    `jepsen_shape`, a Jepsen shape's cuts as well."""
    alone = Partition()
    if isolated:
        groups = blockade_partition([[s] for s in isolated], names, holy, neutral)
        alone = Partition(cuts=groups.cuts, groups=groups.groups, kind="isolate")
    if not jepsen_shape:
        return alone
    shaped = _jepsen_partition(names, rng, holy, neutral)
    if not alone:
        return shaped
    cuts = tuple(dict.fromkeys(alone.cuts + shaped.cuts))
    return Partition(cuts=cuts, kind=f"isolate+{shaped.kind}")


def _usable(kind: str, service: str, partitionable: Sequence[str]) -> bool:
    """Partition kinds need the service and one more that may be cut."""
    return kind not in PARTITION_KINDS or (service in partitionable and len(partitionable) >= 2)


def _round(
    names: Sequence[str],
    chosen: Sequence[tuple[str, str]],
    rng: random.Random,
    holy: Collection[str],
    neutral: Collection[str],
) -> tuple[Fault, ...]:
    """The faults of one round from (service, kind) pairs: the partition kinds merged."""
    faults = [Fault(kind, (service,)) for service, kind in chosen if kind not in PARTITION_KINDS]
    isolated = sorted(s for s, kind in chosen if kind == "isolate")
    shaped = any(kind == "partition" for _, kind in chosen)
    if isolated or shaped:
        cut = round_partition(
            names, isolated=isolated, jepsen_shape=shaped, rng=rng, holy=holy, neutral=neutral
        )
        if cut:
            cut_off = sorted({c.src for c in cut.cuts}) if shaped else isolated
            faults.append(Fault("partition" if shaped else "isolate", tuple(cut_off), cut))
    return tuple(sorted(faults, key=lambda f: (KINDS.index(f.kind), f.targets)))


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

    Each round gives `at_once` (drawn from MIN..MAX) different services a fault each.

    Raises:
        ChaosError: no service may be touched, or the kinds cannot apply.
        UsageError: `at_once` asks for more services than the kinds may touch, or the
            rounds would be more than `MAX_ROUNDS`.
    """
    names = sorted(services)
    pool = [s for s in names if s not in holy]
    if not pool:
        raise ChaosError("chaos needs a service that is not holy")
    partitionable = [s for s in pool if s not in neutral]
    usable = {s: [k for k in kinds if _usable(k, s, partitionable)] for s in pool}
    targets = [s for s in pool if usable[s]]
    if not targets:
        raise ChaosError("a partition needs two services that are neither holy nor neutral")
    if at_once[1] > len(targets):
        raise UsageError(
            f"--at-once {at_once[0]}..{at_once[1]}: more than the {len(targets)} services"
            f" these kinds may touch ({', '.join(targets)})"
        )
    rng = random.Random(seed)
    rounds: list[Round] = []
    t = interval.draw(rng)
    while t < duration:
        if len(rounds) >= MAX_ROUNDS:
            raise UsageError(
                f"--interval {interval} and --hold {hold} are too short for a run of"
                f" {duration:g}s: more than {MAX_ROUNDS} rounds"
            )
        count = rng.randint(at_once[0], at_once[1])
        chosen = [(s, rng.choice(usable[s])) for s in sorted(rng.sample(targets, count))]
        held = min(hold.draw(rng), duration - t)
        rounds.append(Round(t, held, _round(names, chosen, rng, holy, neutral)))
        t += held + interval.draw(rng)
    return ChaosPlan(seed, duration, tuple(kinds), tuple(names), tuple(rounds))


__all__ = [
    "KINDS",
    "MAX_ROUNDS",
    "MAX_SECONDS",
    "PARTITION_KINDS",
    "SERVICE_KINDS",
    "SHAPE_KINDS",
    "ChaosPlan",
    "Fault",
    "Round",
    "Span",
    "parse_count_span",
    "parse_kinds",
    "parse_seconds",
    "parse_span",
    "plan_chaos",
    "round_partition",
]
