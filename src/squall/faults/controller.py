"""The one place where desired faults meet the kernel and the shaper.

`FaultEngine.plan` is read-only (it reads each namespace over netlink, then plans);
`apply` makes every running service's namespace match the desired state and starts,
reconfigures or stops the shaper; `inspect` reads the kernel back for `status`.

`apply` keeps, in the state directory, a record of what it left in each namespace's
iptables (`kernel-applied.json`, keyed by namespace path and cookie), so that the next
apply needs no `iptables-save`: the record is dropped before the kernel is touched and
written again only once every namespace holds its plan, so a crash in between leaves no
record to trust. The kernel layer checks each record as it uses it (see `kernel.apply`).

`apply` is all or nothing: when any step fails (a command refused in one namespace,
the shaper not applying its config), every namespace is read afresh and made to hold
the faults in force before, the shaper too, and the error says nothing changed.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from squall.atomic import write_atomic
from squall.errors import FaultError, FaultRolledBack, SquallError
from squall.faults.desired import DesiredFaults
from squall.faults.kernel import (
    ActualFaults,
    Applied,
    Observed,
    apply_many,
    clear_many,
    detect_caps,
    observe,
    read_back_many,
)
from squall.faults.model import make_tag
from squall.faults.plan import Chain, Interface, KernelCaps, KernelPlan, Table, plan
from squall.faults.resolve import Resolved, resolve, shapes_of
from squall.faults.shaper.control import (
    ShaperStatus,
    ensure_shaper,
    shaper_status,
    stop_shaper,
)
from squall.faults.shaper_config import ShaperConfig
from squall.linux.commands import Runner
from squall.runtime.base import ServiceState

Log = Callable[[str], None]
CAPS_FILE = "kernel-caps.json"
APPLIED_FILE = "kernel-applied.json"


@dataclass(frozen=True)
class PlannedNamespace:
    resolved: Resolved
    interfaces: tuple[Interface, ...]
    plan: KernelPlan

    @property
    def service(self) -> str:
        """The service, or the member of a replicated one (`api-2`)."""
        return self.resolved.service.member


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
    write_atomic(path, json.dumps({"key": key, "caps": caps.__dict__}))
    return caps


@dataclass
class FaultEngine:
    """Faults of one cluster. Constructing it does nothing."""

    project: str
    state_dir: Path
    caps_dir: Path
    log: Log | None = None
    runner: Runner | None = None
    """Runs the kernel commands (default: one logging to `log`); tests inject failures."""

    @property
    def tag(self) -> str:
        return make_tag(self.project)

    def _runner(self) -> Runner:
        return self.runner if self.runner is not None else Runner(self.log)

    def caps(self) -> KernelCaps:
        return kernel_caps(self.caps_dir, self.log)

    def plan(
        self, desired: DesiredFaults, services: Sequence[ServiceState], now: float
    ) -> list[PlannedNamespace]:
        """Plans for every running service; reads interfaces, changes nothing."""
        return [p for p, _seen in self._plan(desired, services, now)]

    def _plan(
        self, desired: DesiredFaults, services: Sequence[ServiceState], now: float
    ) -> list[tuple[PlannedNamespace, Observed]]:
        resolved = resolve(desired.active(now), services, self.tag, self.project)
        if not resolved:
            return []
        caps = self.caps()
        # In-process netlink, well under a millisecond a namespace: no threads needed.
        observed = [observe(r.faults.netns, self.log) for r in resolved]
        return [
            (PlannedNamespace(r, seen.interfaces, plan(r.faults, seen.interfaces, caps, now)), seen)
            for r, seen in zip(resolved, observed, strict=True)
        ]

    def apply(
        self,
        desired: DesiredFaults,
        services: Sequence[ServiceState],
        now: float,
        *,
        previous: DesiredFaults,
    ) -> list[PlannedNamespace]:
        """Make every running service's namespace and the shaper match `desired`, or
        change nothing: on any failure they are made to match `previous` (the faults in
        force before) again, and the error says so.

        Raises:
            FaultRolledBack: a step failed; `previous` is back in force.
            FaultError: a step failed and so did putting `previous` back.
        """
        planned = self._plan(desired, services, now)
        try:
            self._write(planned, known=_load_applied(self.state_dir / APPLIED_FILE))
        except BaseException as exc:
            self._roll_back(exc, previous, services, now)
            raise
        return [p for p, _seen in planned]

    def _write(
        self, planned: Sequence[tuple[PlannedNamespace, Observed]], known: dict[str, Applied]
    ) -> None:
        """Shaper first (its queues must exist before rules send packets to them), then
        every namespace; the record is rewritten only once all of them hold their plan."""
        queues = tuple(p.plan.queues for p, _seen in planned if p.plan.queues is not None)
        if queues:
            ensure_shaper(self.state_dir, ShaperConfig(namespaces=queues))
        _forget_applied(self.state_dir / APPLIED_FILE)
        applied = apply_many(
            [(p.resolved.faults.netns, p.plan) for p, _seen in planned],
            observed={seen.netns: seen for _p, seen in planned},
            known=known,
            runner=self._runner(),
        )
        _save_applied(self.state_dir / APPLIED_FILE, applied)
        if not queues and shaper_status(self.state_dir).running:
            # Left idle rather than stopped: it lets go of every queue and namespace, and
            # the next delay reuses it instead of paying a process start-up. `clear()`
            # (down) stops it.
            ensure_shaper(self.state_dir, ShaperConfig())

    def _roll_back(
        self,
        exc: BaseException,
        previous: DesiredFaults,
        services: Sequence[ServiceState],
        now: float,
    ) -> None:
        """Put `previous` back after `exc` broke a change half way.

        The namespaces are read afresh and no record is trusted: the failed step may
        have left anything of the new plan behind.

        Raises:
            FaultRolledBack: `exc` was a Squall error and `previous` is back in force.
            FaultError: putting `previous` back failed too.
        """
        try:
            self._write(self._plan(previous, services, now), known={})
        except SquallError as again:
            raise FaultError(
                f"{exc}; putting the faults in force before back failed too ({again});"
                " `squall status` shows what differs, `squall reconcile` repairs it"
            ) from exc
        if isinstance(exc, SquallError):
            raise FaultRolledBack(exc) from exc

    def clear(self, services: Sequence[ServiceState]) -> None:
        """Remove every rule of this cluster from running services, and the shaper."""
        _forget_applied(self.state_dir / APPLIED_FILE)
        paths = [s.netns for s in services if s.state == "running" and s.netns]
        clear_many(paths, self.tag, runner=self._runner())
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
                        e.describe() for e in shapes_of(desired.active(now), p.resolved.service)
                    ),
                    drift=tuple(drift),
                    notes=p.resolved.notes,
                )
            )
        return reports


def _load_applied(path: Path) -> dict[str, Applied]:
    """The records of the last apply by namespace path; none if unreadable."""
    try:
        raw = json.loads(path.read_text())
        return {
            str(r["netns"]): Applied(
                netns=str(r["netns"]),
                cookie=int(r["cookie"]),
                tag=str(r["tag"]),
                chains=tuple(_chain(c) for c in r["chains"]),
            )
            for r in raw["namespaces"]
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _chain(row: Sequence[object]) -> Chain:
    table, name, hook, comment = (str(v) for v in row)
    if table not in ("filter", "mangle"):
        raise ValueError(f"unknown table {table!r}")
    return Chain(cast(Table, table), name, hook, comment)


def _save_applied(path: Path, records: Sequence[Applied]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "netns": r.netns,
            "cookie": r.cookie,
            "tag": r.tag,
            "chains": [[c.table, c.name, c.hook, c.comment] for c in r.chains],
        }
        for r in records
    ]
    write_atomic(path, json.dumps({"namespaces": rows}))


def _forget_applied(path: Path) -> None:
    path.unlink(missing_ok=True)
