"""The one place where desired faults meet the kernel and the shaper.

`FaultEngine.plan` is read-only (it lists each namespace's interfaces, then plans);
`apply` makes every running service's namespace match the desired state and starts,
reconfigures or stops the shaper; `inspect` reads the kernel back for `status`.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from squall.faults.desired import DesiredFaults
from squall.faults.kernel import (
    PARALLEL,
    ActualFaults,
    apply_many,
    clear_many,
    detect_caps,
    list_interfaces,
    read_back_many,
)
from squall.faults.model import make_tag
from squall.faults.plan import Interface, KernelCaps, KernelPlan, plan
from squall.faults.resolve import Resolved, resolve
from squall.faults.shaper.control import (
    ShaperStatus,
    ensure_shaper,
    shaper_status,
    stop_shaper,
)
from squall.faults.shaper_config import ShaperConfig
from squall.runtime.base import ServiceState

Log = Callable[[str], None]
CAPS_FILE = "kernel-caps.json"


@dataclass(frozen=True)
class PlannedNamespace:
    resolved: Resolved
    interfaces: tuple[Interface, ...]
    plan: KernelPlan

    @property
    def service(self) -> str:
        return self.resolved.service.service


@dataclass(frozen=True)
class FaultReport:
    """For `status`: what is desired, what the kernel holds, and where they differ."""

    service: str
    desired: tuple[str, ...]
    drift: tuple[str, ...]
    notes: tuple[str, ...]


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def kernel_caps(cache_dir: Path, log: Log | None = None, refresh: bool = False) -> KernelCaps:
    """Probe once per boot and kernel; the probe costs a namespace and a dozen processes."""
    key = f"{_boot_id()} {platform.release()}"
    path = cache_dir / CAPS_FILE
    if not refresh:
        try:
            cached = json.loads(path.read_text())
            if cached.get("key") == key:
                return KernelCaps(**cached["caps"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    caps = detect_caps(log)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"key": key, "caps": caps.__dict__}))
    os.replace(tmp, path)
    return caps


@dataclass
class FaultEngine:
    """Faults of one cluster. Constructing it does nothing."""

    project: str
    state_dir: Path
    caps_dir: Path
    log: Log | None = None

    @property
    def tag(self) -> str:
        return make_tag(self.project)

    def caps(self) -> KernelCaps:
        return kernel_caps(self.caps_dir, self.log)

    def plan(
        self, desired: DesiredFaults, services: Sequence[ServiceState], now: float
    ) -> list[PlannedNamespace]:
        """Plans for every running service; reads interfaces, changes nothing."""
        resolved = resolve(desired.active(now), services, self.tag, self.project)
        if not resolved:
            return []
        caps = self.caps()
        with ThreadPoolExecutor(max_workers=min(PARALLEL, len(resolved))) as pool:
            interfaces = list(
                pool.map(lambda r: list_interfaces(r.faults.netns, self.log), resolved)
            )
        return [
            PlannedNamespace(r, tuple(ifaces), plan(r.faults, ifaces, caps, now))
            for r, ifaces in zip(resolved, interfaces, strict=True)
        ]

    def apply(
        self, desired: DesiredFaults, services: Sequence[ServiceState], now: float
    ) -> list[PlannedNamespace]:
        """Make every running service's namespace and the shaper match `desired`."""
        planned = self.plan(desired, services, now)
        queues = tuple(p.plan.queues for p in planned if p.plan.queues is not None)
        if queues:
            ensure_shaper(self.state_dir, ShaperConfig(namespaces=queues))
        apply_many([(p.resolved.faults.netns, p.plan) for p in planned], self.log)
        if not queues:
            stop_shaper(self.state_dir)
        return planned

    def clear(self, services: Sequence[ServiceState]) -> None:
        """Remove every rule of this cluster from running services, and the shaper."""
        paths = [s.netns for s in services if s.state == "running" and s.netns]
        clear_many(paths, self.tag, self.log)
        stop_shaper(self.state_dir)

    def shaper(self) -> ShaperStatus:
        return shaper_status(self.state_dir)

    def inspect(
        self, desired: DesiredFaults, services: Sequence[ServiceState], now: float
    ) -> list[FaultReport]:
        planned = self.plan(desired, services, now)
        actual: dict[str, ActualFaults] = read_back_many(
            [p.resolved.faults.netns for p in planned], self.tag, self.log
        )
        shaper = self.shaper() if any(p.plan.queues for p in planned) else None
        reports = []
        for p in planned:
            drift = list(actual[p.resolved.faults.netns].drift(p.plan))
            if p.plan.queues is not None and shaper is not None and not shaper.running:
                drift.append("shaper is not running: delay/duplicate/corrupt not applied")
            reports.append(
                FaultReport(
                    service=p.service,
                    desired=tuple(
                        e.describe() for e in desired.active(now).shapes.get(p.service, ())
                    ),
                    drift=tuple(drift),
                    notes=p.resolved.notes,
                )
            )
        return reports
