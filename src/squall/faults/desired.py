"""What the user asked for, per service, kept in the state directory between commands.

Peers are kept as the user named them (service names), not as addresses: a service
that restarts gets a new address, and its faults must follow it. Addresses are
resolved only when a plan is made (`resolve.py`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from squall.atomic import write_atomic
from squall.errors import StateError, UsageError
from squall.faults.model import Partition, Shape

FAULTS_FILE = "faults.json"


@dataclass(frozen=True)
class ShapeEntry:
    """One `squall shape` (or preset) on one service.

    `shape.selector.peers` holds the CIDRs given with `--to`; `to_services` the
    service names given with `--to`, resolved to their addresses at plan time.
    """

    shape: Shape
    to_services: tuple[str, ...] = ()
    origin: str = "shape"
    """`shape`, `slow`, `flaky` or `duplicate`: what made it, for status."""

    def same_target(self, other: ShapeEntry) -> bool:
        return self.shape.selector == other.shape.selector and self.to_services == other.to_services

    def describe(self) -> str:
        text = str(self.shape)
        if self.to_services:
            text += f" to {','.join(self.to_services)}"
        return text if self.origin == "shape" else f"{self.origin}: {text}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "shape": self.shape.to_dict(),
            "to_services": list(self.to_services),
            "origin": self.origin,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ShapeEntry:
        return cls(
            shape=Shape.from_dict(raw["shape"]),
            to_services=tuple(raw.get("to_services", ())),
            origin=str(raw.get("origin", "shape")),
        )


@dataclass(frozen=True)
class DesiredFaults:
    """Shapes by service (oldest first) and the partition in force, if any."""

    shapes: Mapping[str, tuple[ShapeEntry, ...]] = field(default_factory=dict)
    partition: Partition = field(default_factory=Partition)

    def with_shape(self, service: str, entry: ShapeEntry) -> DesiredFaults:
        """Add a shape; one with the same target (selector and peers) is replaced."""
        kept = tuple(e for e in self.shapes.get(service, ()) if not e.same_target(entry))
        return replace(self, shapes={**self.shapes, service: (*kept, entry)})

    def without_shapes(self, services: set[str]) -> DesiredFaults:
        return replace(
            self, shapes={s: e for s, e in self.shapes.items() if s not in services and e}
        )

    def without_origin(self, origin: str) -> DesiredFaults:
        """Without the shapes that `origin` made (e.g. every WAN link's)."""
        kept = {s: tuple(e for e in es if e.origin != origin) for s, es in self.shapes.items()}
        return replace(self, shapes={s: es for s, es in kept.items() if es})

    def with_partition(self, partition: Partition) -> DesiredFaults:
        return replace(self, partition=partition)

    def active(self, now: float) -> DesiredFaults:
        """Without shapes whose `--duration` has run out."""
        shapes = {
            s: kept
            for s, entries in self.shapes.items()
            if (kept := tuple(e for e in entries if e.shape.active(now)))
        }
        return replace(self, shapes=shapes)

    def next_expiry(self) -> float | None:
        times = [
            e.shape.expires_at
            for entries in self.shapes.values()
            for e in entries
            if e.shape.expires_at is not None
        ]
        return min(times) if times else None

    @property
    def is_empty(self) -> bool:
        return not any(self.shapes.values()) and not self.partition

    def to_json(self) -> str:
        return json.dumps(
            {
                "shapes": {s: [e.to_dict() for e in es] for s, es in sorted(self.shapes.items())},
                "partition": self.partition.to_dict(),
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> DesiredFaults:
        raw = json.loads(text)
        return cls(
            shapes={
                s: tuple(ShapeEntry.from_dict(e) for e in es)
                for s, es in raw.get("shapes", {}).items()
            },
            partition=Partition.from_dict(raw.get("partition", {})),
        )

    @classmethod
    def load(cls, directory: Path) -> DesiredFaults:
        path = directory / FAULTS_FILE
        try:
            return cls.from_json(path.read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, KeyError, TypeError, UsageError) as exc:
            raise StateError(f"{path}: unreadable desired faults ({exc}); remove it") from exc

    def save(self, directory: Path) -> None:
        """Atomically, so a crash never leaves half a file."""
        write_atomic(directory / FAULTS_FILE, self.to_json())
