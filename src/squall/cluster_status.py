"""`squall status` as data: each service as the backend sees it, plus its faults.

Desired faults come from the state directory, actual ones from the kernel, and every
difference is listed as drift, so a user can see whether a fault is really applied.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass
from typing import Any

from squall.errors import FaultDrift
from squall.faults.desired import DesiredFaults
from squall.faults.model import Partition
from squall.faults.shaper.control import ShaperStatus
from squall.runtime.base import ServiceState
from squall.watcher import WatcherStatus


@dataclass(frozen=True)
class ServiceFaults:
    shapes: tuple[str, ...] = ()
    """Desired shapes, as the user asked for them (with expiry)."""
    cannot_reach: tuple[str, ...] = ()
    """Services this one's connections are cut from by the partition in force."""
    drift: tuple[str, ...] = ()
    """Differences between what is desired and what the kernel holds."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceStatus:
    state: ServiceState
    faults: ServiceFaults


@dataclass(frozen=True)
class ClusterStatus:
    project: str
    services: tuple[ServiceStatus, ...]
    partition: Partition
    shaper: ShaperStatus | None
    """None when no shape needs the userspace shaper."""
    kernel_checked: bool
    """False when the kernel could not be read (not root): drift is unknown."""
    watcher: WatcherStatus | None = None
    """The process that keeps faults in force across restarts (None: no faults)."""

    @property
    def drifted(self) -> tuple[str, ...]:
        """Services whose kernel differs from their desired faults."""
        return tuple(s.state.service for s in self.services if s.faults.drift)

    def drift_error(self) -> FaultDrift | None:
        """The one-line error for `status` when faults are not in force, saying what
        repairs them; None when the kernel matches (or was not read)."""
        if not self.drifted:
            return None
        watcher = self.watcher
        by_watcher = (
            f" (the watcher, pid {watcher.pid}, repairs a restarted service within a second)"
            if watcher is not None and watcher.running
            else ""
        )
        return FaultDrift(
            f"faults not in force on {', '.join(self.drifted)}: `squall reconcile` repairs"
            f" them{by_watcher}",
            self.drifted,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "services": [
                {
                    **dataclasses.asdict(s.state),
                    "member": s.state.member,
                    "faults": dataclasses.asdict(s.faults),
                }
                for s in self.services
            ],
            "partition": self.partition.to_dict(),
            "shaper": dataclasses.asdict(self.shaper) if self.shaper else None,
            "kernel_checked": self.kernel_checked,
            "watcher": dataclasses.asdict(self.watcher) if self.watcher else None,
            "drifted": list(self.drifted),
        }


def describe_shapes(desired: DesiredFaults, service: str) -> tuple[str, ...]:
    out = []
    for entry in desired.shapes.get(service, ()):
        text = entry.describe()
        if entry.shape.expires_at is not None:
            until = datetime.datetime.fromtimestamp(entry.shape.expires_at, datetime.UTC)
            text += f" until {until:%H:%M:%S} UTC"
        out.append(text)
    return tuple(out)


def cannot_reach(partition: Partition, service: str) -> tuple[str, ...]:
    return tuple(sorted({c.dst for c in partition.cuts if c.src == service}))
