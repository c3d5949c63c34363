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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from squall.atomic import write_atomic
from squall.errors import FaultError, FaultRolledBack, SquallError
from squall.faults.agent.access import AgentKernel, Call, Kernel, LocalKernel
from squall.faults.desired import DesiredFaults
from squall.faults.kernel import ActualFaults, Applied, Observed
from squall.faults.model import make_tag
from squall.faults.plan import Chain, Interface, KernelCaps, KernelPlan, Table, plan
from squall.faults.resolve import Resolved, resolve, shapes_of
from squall.faults.shaper.control import ShaperStatus
from squall.faults.shaper_config import ShaperConfig
from squall.linux.commands import Runner
from squall.runtime.base import ServiceState

Log = Callable[[str], None]
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


@dataclass
class FaultEngine:
    """Faults of one cluster. Constructing it does nothing.

    A service whose `agent` names a host has its namespace on that host's kernel: its
    work goes to `agents(host)` (an `AgentKernel`); every other one is this kernel's.
    """

    project: str
    state_dir: Path
    caps_dir: Path
    log: Log | None = None
    runner: Runner | None = None
    """Runs the kernel commands (default: one logging to `log`); tests inject failures."""
    agents: Callable[[str], Call] | None = None
    """The transport to the agent of a host, for services whose namespace is there."""
    _kernels: dict[str, Kernel] = field(default_factory=dict, repr=False)

    @property
    def tag(self) -> str:
        return make_tag(self.project)

    def kernel(self, host: str | None) -> Kernel:
        """Where a namespace lives: this kernel (None), or host `host`'s through its agent.

        Raises:
            FaultError: no way to reach agents was given.
        """
        key = host or ""
        if key not in self._kernels:
            if not key:
                self._kernels[key] = LocalKernel(
                    self.state_dir, self.caps_dir, self.log, self.runner
                )
            elif self.agents is None:
                raise FaultError(f"host {host!r} needs its agent, and none can be reached")
            else:
                self._kernels[key] = AgentKernel(key, self.project, self.agents(key), self.log)
        return self._kernels[key]

    def caps(self) -> KernelCaps:
        return self.kernel(None).caps()

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
        caps: dict[str | None, KernelCaps] = {}
        planned = []
        for r in resolved:
            host = r.service.agent
            if host not in caps:
                caps[host] = self.kernel(host).caps()
            # In-process netlink, well under a millisecond a namespace: no threads needed.
            seen = self.kernel(host).observe(r.faults.netns)
            kernel_plan = plan(r.faults, seen.interfaces, caps[host], now)
            planned.append((PlannedNamespace(r, seen.interfaces, kernel_plan), seen))
        return planned

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
        every namespace, on each kernel; the record (of this kernel's namespaces) is
        rewritten only once all of them hold their plan."""
        by_host: dict[str | None, list[tuple[PlannedNamespace, Observed]]] = {}
        for item in planned:
            by_host.setdefault(item[0].resolved.service.agent, []).append(item)
        by_host.setdefault(None, [])
        for host, items in by_host.items():
            queues = tuple(p.plan.queues for p, _seen in items if p.plan.queues is not None)
            if queues:
                self.kernel(host).ensure_shaper(ShaperConfig(namespaces=queues))
        _forget_applied(self.state_dir / APPLIED_FILE)
        applied: list[Applied] = []
        for host, items in by_host.items():
            records = self.kernel(host).apply(
                [(p.resolved.faults.netns, p.plan) for p, _seen in items],
                {seen.netns: seen for _p, seen in items},
                known if host is None else {},
            )
            if host is None:
                applied = records
        _save_applied(self.state_dir / APPLIED_FILE, applied)
        for host, items in by_host.items():
            if any(p.plan.queues is not None for p, _seen in items):
                continue
            kernel = self.kernel(host)
            if (host is None or items) and kernel.shaper().running:
                # Left idle rather than stopped: it lets go of every queue and namespace,
                # and the next delay reuses it instead of paying a process start-up.
                # `clear()` (down) stops it.
                kernel.ensure_shaper(ShaperConfig())

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
        paths: dict[str | None, list[str]] = {None: []}
        for s in services:
            if s.state == "running" and s.netns:
                paths.setdefault(s.agent, []).append(s.netns)
        for host, found in paths.items():
            kernel = self.kernel(host)
            kernel.clear(found, self.tag)
            kernel.stop_shaper()

    def shaper(self) -> ShaperStatus:
        return self.kernel(None).shaper()

    def inspect(
        self, desired: DesiredFaults, services: Sequence[ServiceState], now: float
    ) -> list[FaultReport]:
        planned = self.plan(desired, services, now)
        actual: dict[tuple[str | None, str], ActualFaults] = {}
        shapers: dict[str | None, ShaperStatus] = {}
        hosts = {p.resolved.service.agent for p in planned}
        for host in hosts:
            mine = [p for p in planned if p.resolved.service.agent == host]
            found = self.kernel(host).read_back([p.resolved.faults.netns for p in mine], self.tag)
            actual.update({(host, path): faults for path, faults in found.items()})
            if any(p.plan.queues for p in mine):
                shapers[host] = self.kernel(host).shaper()
        reports = []
        for p in planned:
            host = p.resolved.service.agent
            drift = list(actual[(host, p.resolved.faults.netns)].drift(p.plan))
            shaper = shapers.get(host)
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
