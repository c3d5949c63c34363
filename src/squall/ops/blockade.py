"""Blockade's chaos options, with Blockade's meaning, turned into a `ChaosRequest`.

Blockade's daemon took `min_start_delay`/`max_start_delay` (the calm before a round)
and `min_run_time`/`max_run_time` (how long a round lasts) in milliseconds,
`min_containers_at_once`/`max_containers_at_once` and `event_set` (SLOW, DUPLICATE,
FLAKY, STOP, PARTITION), and refused any other key, `*_events_at_once` included (its
documentation shows them in an example; its daemon answered 500 to them). Each round
between MIN and MAX containers (all of them when there are fewer) get one event each,
drawn from the set; a PARTITION container is cut off alone. Its chaos ran until it
was deleted; here it runs a day at most (fewer rounds than `MAX_ROUNDS`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from squall.chaos.plan import MAX_ROUNDS, MAX_SECONDS
from squall.errors import ChaosError
from squall.ops.requests import ChaosRequest
from squall.units import shown

EVENTS: Final = {
    "SLOW": "slow", "DUPLICATE": "duplicate", "FLAKY": "flaky", "STOP": "stop",
    "PARTITION": "isolate",
}  # fmt: skip
"""Blockade's events and Squall's kinds for them."""
RUN_MILLISECONDS: Final = 86_400_000
MAX_MILLISECONDS: Final = MAX_SECONDS * 1000
OPTIONS_FILE: Final = "blockade-chaos.json"
"""The options of the run going on, kept in the state directory for a later PUT."""


class ChaosOptionError(ChaosError):
    """A chaos option Blockade refused (its route answers 500, as Blockade did)."""


@dataclass(frozen=True)
class BlockadeChaosOptions:
    """Blockade's chaos options, Blockade's defaults."""

    min_start_delay: int = 30_000
    max_start_delay: int = 300_000
    min_run_time: int = 30_000
    max_run_time: int = 300_000
    min_containers_at_once: int = 1
    max_containers_at_once: int = 1
    event_set: tuple[str, ...] = tuple(EVENTS)

    @classmethod
    def parse(
        cls, given: Mapping[str, object], base: BlockadeChaosOptions | None = None
    ) -> BlockadeChaosOptions:
        """`given` over `base` (default: Blockade's defaults), every value checked.

        Raises:
            ChaosOptionError: an unknown key, or a value of the wrong type or range.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        values: dict[str, Any] = dataclasses.asdict(base or cls())
        for key, value in given.items():
            if key not in names:
                raise ChaosOptionError(
                    f"{shown(key)} is not one of Blockade's chaos options ({', '.join(names)})"
                )
            values[key] = _events(value) if key == "event_set" else _milliseconds(key, value)
        for low, high in (
            ("min_start_delay", "max_start_delay"),
            ("min_run_time", "max_run_time"),
            ("min_containers_at_once", "max_containers_at_once"),
        ):
            if values[low] > values[high]:
                raise ChaosOptionError(f"{low} {values[low]} is more than {high} {values[high]}")
        if values["min_containers_at_once"] < 1:
            raise ChaosOptionError("min_containers_at_once must be 1 or more")
        if values["min_start_delay"] + values["min_run_time"] == 0:
            raise ChaosOptionError("min_start_delay or min_run_time must be more than 0")
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BlockadeChaosOptions:
        raw = json.loads(text)
        return cls(**{**raw, "event_set": tuple(raw["event_set"])})

    def request(self, targets: int) -> ChaosRequest:
        """The `ChaosRequest` of these options on a cluster of `targets` services chaos
        may touch: more containers at once than there are means all of them."""
        shortest = self.min_start_delay + self.min_run_time
        duration = min(RUN_MILLISECONDS, shortest * (MAX_ROUNDS - 1))
        most = max(targets, 1)
        return ChaosRequest(
            duration=f"{duration}ms",
            events=",".join(dict.fromkeys(EVENTS[e] for e in self.event_set)),
            interval=f"{self.min_start_delay}ms..{self.max_start_delay}ms",
            hold=f"{self.min_run_time}ms..{self.max_run_time}ms",
            at_once=f"{min(self.min_containers_at_once, most)}"
            f"..{min(self.max_containers_at_once, most)}",
        )


def _milliseconds(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MILLISECONDS:
        raise ChaosOptionError(f"{key}: a whole number from 0 to {MAX_MILLISECONDS}")
    return value


def _events(value: object) -> tuple[str, ...]:
    known = ", ".join(EVENTS)
    if not isinstance(value, list) or not value or not all(isinstance(e, str) for e in value):
        raise ChaosOptionError(f"event_set: a list of events ({known})")
    unknown = [e for e in value if e not in EVENTS]
    if unknown:
        raise ChaosOptionError(f"{shown(unknown[0])} is an unknown event (events: {known})")
    return tuple(value)


__all__ = ["EVENTS", "OPTIONS_FILE", "BlockadeChaosOptions", "ChaosOptionError"]
