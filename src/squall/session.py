"""One cluster, one command at a time: take the lock, drive the backend, log the change.

The operations layer (`squall.ops`) calls this one; it never prints. Every change goes
through `Session._changing`, so the event log is complete and in the order of the
changes.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from squall import events, expiry
from squall.cluster_status import (
    ClusterStatus,
    ServiceFaults,
    ServiceStatus,
    cannot_reach,
    describe_shapes,
)
from squall.errors import ServiceNotFound, UsageError
from squall.faults.controller import FaultEngine, FaultReport, PlannedNamespace
from squall.faults.desired import DesiredFaults, ShapeEntry
from squall.faults.model import Partition, PresetName, Shape, parse_preset
from squall.faults.resolve import names_of
from squall.faults.shaper.control import ShaperStatus
from squall.linux.commands import Runner
from squall.probe import DEFAULT_COUNT, DEFAULT_TIMEOUT, ProbeReport, probe
from squall.runtime.base import Action, Backend, NetworkState, Progress, ServiceState
from squall.runtime.members import canonical, every_member, members_of
from squall.spec import graph
from squall.spec.model import ClusterSpec, FaultPresets
from squall.state import StateDir, default_state_root
from squall.watcher import WatcherStatus, ensure_watcher, stop_watcher, watcher_status

Log = Callable[[str], None]
RESTARTING_ACTIONS = frozenset({Action.START, Action.RESTART, Action.UNPAUSE})
"""After these a service has a new namespace (or is back): its faults are re-applied."""


@dataclass
class _Entry:
    """What `Session._changing` logs when the change is over."""

    targets: Sequence[str]
    record: bool


@dataclass(frozen=True)
class ClusterRef:
    """Which cluster a command is about: its project name and, when found, its file."""

    project: str
    spec: ClusterSpec | None


@dataclass
class Session:
    """Commands on one cluster. Constructing it does nothing; each call locks the state."""

    cluster: ClusterRef
    backend: Backend
    state: StateDir
    log: Log | None = None
    """Receives every kernel command (`-v`)."""
    actor: events.Actor = field(default_factory=events.Actor)
    """Who the event log names for the changes made through this session."""
    runner: Runner | None = None
    """Runs the fault engine's kernel commands (default: one logging to `log`); tests
    pass one with a `FailAt` hook."""

    @classmethod
    def create(
        cls,
        cluster: ClusterRef,
        backend: Backend,
        state_root: Path | None = None,
        log: Log | None = None,
        actor: events.Actor | None = None,
        runner: Runner | None = None,
    ) -> Session:
        root = state_root if state_root is not None else default_state_root()
        state = StateDir(root, cluster.project)
        return cls(cluster, backend, state, log, actor or events.Actor(), runner)

    # The event log ------------------------------------------------------------------

    @contextlib.contextmanager
    def _changing(
        self,
        what: str,
        targets: Sequence[str] = (),
        values: Mapping[str, Any] | None = None,
        *,
        record: bool = True,
    ) -> Iterator[_Entry]:
        """Hold the lock for one change and log it (with its error, if it fails).

        Every change to a cluster goes through here, so the event log is complete; it is
        written while the lock is held, so its order is the order of the changes. The
        body may narrow what is logged through the entry it gets.
        """
        entry = _Entry(targets, record)
        with self.state.locked(what):
            try:
                yield entry
            except BaseException as exc:
                if entry.record:
                    self._record(events.make_event(self.actor, what, entry.targets, values, exc))
                raise
            if entry.record:
                self._record(events.make_event(self.actor, what, entry.targets, values))

    def _record(self, event: events.Event) -> None:
        events.append(self.state.ensure(), event)

    def note(
        self, what: str, targets: Sequence[str] = (), values: Mapping[str, Any] | None = None
    ) -> None:
        """Log something that is not itself a change (a chaos run's start and end)."""
        self._record(events.make_event(self.actor, what, targets, values))

    def events_path(self) -> Path:
        """The cluster's event log (the one `down` kept, if the cluster is gone)."""
        return events.log_path(self.state.path)

    def events(self) -> list[events.Event]:
        return events.read(self.events_path())

    @property
    def project(self) -> str:
        return self.cluster.project

    def _spec(self, command: str) -> ClusterSpec:
        if self.cluster.spec is None:
            raise UsageError(f"squall {command} needs the cluster file; pass -f FILE")
        return self.cluster.spec

    def up(
        self,
        *,
        build: bool = False,
        force: bool = False,
        progress: Progress | None = None,
        services: Sequence[str] | None = None,
        dependencies: bool = True,
    ) -> list[str]:
        """Bring the cluster up, or only `services` (with what they need unless
        `dependencies` is False); the services brought up.

        Raises:
            ServiceNotFound: a service named is not in the file.
        """
        spec = self._spec("up")
        chosen = None
        if services is not None:
            for name in services:
                if spec.service(name) is None:
                    known = ", ".join(spec.service_names)
                    raise ServiceNotFound(
                        f"no service {name!r} enabled in the file; services: {known}", service=name
                    )
            chosen = graph.needed(spec, services, dependencies=dependencies)
        values = {"build": build, "force": force}
        targets = spec.service_names if chosen is None else chosen
        with self._changing("up", targets, values):
            self.backend.up(spec, build=build, force=force, progress=progress, services=chosen)
            self._reapply()
        return list(targets)

    def down(
        self, *, volumes: bool = False, images: bool = False, progress: Progress | None = None
    ) -> None:
        # A cluster neither this state directory nor the backend knows leaves no log.
        known = self.state.path.exists() or bool(self.backend.status(self.project))
        values = {"volumes": volumes, "images": images}
        stop_watcher(self.state.path)  # first: it must not repair what down removes
        with self._changing("down", values=values, record=known):
            expiry.cancel(self.state.path)
            self._engine().clear([])
            self.backend.down(self.project, volumes=volumes, images=images, progress=progress)
        events.archive(self.state.path)
        self.state.remove()

    def status(self) -> list[ServiceState]:
        """What the engine holds, plus a `missing` row for each declared service it lacks."""
        found = self.backend.status(self.project)
        seen = {s.service for s in found}
        if self.cluster.spec is not None:
            found += [
                ServiceState(service=s.name, container="", id=None, state="missing")
                for s in self.cluster.spec.services
                if s.name not in seen and s.scale > 0
            ]
        return sorted(found, key=lambda s: (s.service, s.container))

    def networks(self) -> list[NetworkState]:
        return self.backend.networks(self.project)

    def known_services(self) -> list[str]:
        if self.cluster.spec is not None:
            return list(self.cluster.spec.service_names)
        return sorted({s.service for s in self.backend.status(self.project)})

    def members(self) -> dict[str, tuple[str, ...]]:
        """Each service's members: its replicas (`api-1`...) as the backend holds them,
        or the service itself when it runs one container."""
        return members_of(self.known_services(), self.backend.status(self.project))

    def select_services(
        self,
        names: Sequence[str],
        *,
        all_services: bool = False,
        pick_random: bool = False,
        rng: random.Random | None = None,
    ) -> list[str]:
        """Turn `SERVICE... | --all | --random` into service or member names (`api`,
        `api-2`), checking each; `--random` draws one member."""
        chosen = sum((bool(names), all_services, pick_random))
        if chosen == 0:
            raise UsageError("name one or more services, or pass --all or --random")
        if chosen > 1:
            raise UsageError("services by name, --all and --random exclude each other: pick one")
        members = self.members()
        known = list(members)
        if not known:
            raise ServiceNotFound(f"cluster {self.project!r} has no services; run squall up")
        if all_services:
            return known
        if pick_random:
            return [(rng or random.Random()).choice(every_member(members))]
        picked = []
        for name in names:
            found = canonical(name, members)
            if found is None:
                raise ServiceNotFound(
                    f"no service {name!r} in cluster {self.project!r};"
                    f" services: {', '.join(every_member(members))}",
                    service=name,
                )
            picked.append(found)
        return list(dict.fromkeys(picked))

    def act(self, services: Sequence[str], action: Action, *, signal: str | None = None) -> None:
        with self._changing(str(action), services, {"signal": signal} if signal else None):
            self.backend.act(self.project, services, action, signal=signal)
            if action in RESTARTING_ACTIONS:
                self._reapply()

    def _reapply(self) -> None:
        """After a change of namespaces or addresses: the recorded faults, again."""
        if not self._desired().is_empty:
            self._apply(self._desired())

    def logs(
        self, service: str, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[bytes]:
        self.select_services([service])
        self._revive_watcher()
        return self.backend.logs(self.project, service, follow=follow, tail=tail)

    def exec(self, service: str, argv: Sequence[str], *, tty: bool = False) -> int:
        self.select_services([service])
        if not argv:
            raise UsageError("squall exec needs a command: squall exec SERVICE -- CMD [ARG...]")
        self._revive_watcher()
        return self.backend.exec(self.project, service, argv, tty=tty)

    def create_network(self, name: str, *, subnet: str | None, internal: bool) -> NetworkState:
        values = {"network": name, "subnet": subnet, "internal": internal}
        with self._changing("net create", (), values):
            return self.backend.create_network(self.project, name, subnet=subnet, internal=internal)

    def remove_network(self, name: str) -> None:
        with self._changing("net rm", (), {"network": name}):
            self.backend.remove_network(self.project, name)

    def connect(self, network: str, service: str, *, aliases: Sequence[str] = ()) -> None:
        self.select_services([service])
        with self._changing("net connect", [service], {"network": network}):
            self.backend.connect(self.project, network, service, aliases=aliases)
            self._reapply()

    def disconnect(self, network: str, service: str) -> None:
        self.select_services([service])
        with self._changing("net disconnect", [service], {"network": network}):
            self.backend.disconnect(self.project, network, service)
            self._reapply()

    # Faults --------------------------------------------------------------------------

    def _engine(self) -> FaultEngine:
        # The engine creates the directory when it first writes: reads leave no trace.
        return FaultEngine(
            self.project,
            self.state.path,
            self.state.root,
            self.log,
            self.runner,
            agents=lambda host: self.backend.agent_call(self.project, host),
        )

    def _desired(self) -> DesiredFaults:
        return DesiredFaults.load(self.state.path)

    def _apply(self, desired: DesiredFaults, *, dry_run: bool = False) -> list[PlannedNamespace]:
        """Plan (and unless `dry_run`, apply and record) `desired` on the running services.

        All or nothing: if a step fails, the recorded faults are put back in force and
        stay the record (`FaultRolledBack`).
        """
        now = time.time()
        services = self.backend.status(self.project)
        engine = self._engine()
        if dry_run:
            return engine.plan(desired, services, now)
        desired = desired.active(now)
        planned = engine.apply(desired, services, now, previous=self._desired().active(now))
        desired.save(self.state.path)
        expiry.schedule(self.state.root, self.project, self.backend.name, desired.next_expiry())
        self._keep_watching(desired)
        return planned

    def _keep_watching(self, desired: DesiredFaults) -> None:
        """Faults in force need the watcher, so that they follow restarts: start it if
        it is not running (the first fault, or it died)."""
        if self.backend.watchable and not desired.is_empty:
            ensure_watcher(self.state.root, self.project, self.backend.name)

    def _revive_watcher(self) -> None:
        """Commands that change nothing still bring back a watcher that died, where it
        can repair (as root: it enters namespaces); one that could not would only
        pretend that faults follow restarts."""
        if os.geteuid() == 0 and self.state.path.exists():
            self._keep_watching(self._desired().active(time.time()))

    def repair_faults(self, cause: str = "") -> list[str]:
        """Make the kernel match the recorded faults where it no longer does (a service
        restarted outside Squall); the services repaired. Logged only if any was.

        Raises:
            ClusterBusy: another command holds the lock (try again).
            FaultError: the repair failed (the kernel was read afresh and stays as it was).
        """
        if not self.state.path.exists():
            return []  # the cluster is gone (down)
        values = {"cause": cause} if cause else None
        with self._changing("reconcile", values=values, record=False) as entry:
            now = time.time()
            desired = self._desired().active(now)
            if desired.is_empty:
                return []
            services = self.backend.status(self.project)
            engine = self._engine()
            drifted = [r.service for r in engine.inspect(desired, services, now) if r.drift]
            if drifted:
                entry.targets, entry.record = drifted, True
                engine.apply(desired, services, now, previous=desired)
            return drifted

    def _change(
        self,
        command: str,
        change: Callable[[DesiredFaults], DesiredFaults],
        dry_run: bool,
        targets: Sequence[str] = (),
        values: Mapping[str, Any] | None = None,
    ) -> list[PlannedNamespace]:
        """Every fault change: lock, change the desired state, apply, log (unless dry)."""
        with self._changing(command, targets, values, record=not dry_run):
            return self._apply(change(self._desired()), dry_run=dry_run)

    def reconcile_faults(self, *, dry_run: bool = False) -> list[PlannedNamespace]:
        """Make the kernel match the recorded desired state again, in every namespace
        (timers, `squall reconcile`)."""
        return self._change("reconcile", lambda d: d, dry_run=dry_run)

    def desired_faults(self) -> DesiredFaults:
        """The faults in force as recorded (without shapes whose duration ran out)."""
        return self._desired().active(time.time())

    def restore_shapes(
        self, previous: Mapping[str, Sequence[ShapeEntry]], *, dry_run: bool = False
    ) -> list[PlannedNamespace]:
        """Put back the shapes `services` had before (context managers, healing)."""

        def change(desired: DesiredFaults) -> DesiredFaults:
            desired = desired.without_shapes(set(previous))
            for service, entries in previous.items():
                for entry in entries:
                    desired = desired.with_shape(service, entry)
            return desired

        values = {s: [e.to_dict() for e in es] for s, es in previous.items()}
        return self._change("restore", change, dry_run, sorted(previous), {"shapes": values})

    def presets(self) -> FaultPresets:
        spec = self.cluster.spec
        return spec.options.presets if spec is not None else FaultPresets()

    def roles(self) -> tuple[set[str], set[str]]:
        """Holy and neutral services, from the file (Blockade fields or `x-squall`)."""
        spec = self.cluster.spec
        if spec is None:
            return set(), set()
        holy = {s.name for s in spec.services if s.holy}
        neutral = {s.name for s in spec.services if s.neutral}
        for key, names in (("holy", holy), ("neutral", neutral)):
            listed = spec.options.raw.get(key, [])
            if isinstance(listed, list):
                names.update(str(n) for n in listed)
        return holy, neutral

    def running_services(self) -> list[str]:
        return sorted(s.service for s in self.backend.status(self.project) if s.state == "running")

    def shape(
        self,
        services: Sequence[str],
        shape: Shape,
        *,
        to_services: Sequence[str] = (),
        origin: str = "shape",
        dry_run: bool = False,
    ) -> list[PlannedNamespace]:
        """Add `shape` to each service (replacing one with the same target)."""
        members = self.members()
        peers: list[str] = []
        for peer in to_services:
            found = canonical(peer, members)
            if found is None:
                raise ServiceNotFound(
                    f"--to {peer}: no such service (services: {', '.join(every_member(members))})"
                )
            peers.append(found)  # `db-1` of a one-container service is `db`
        entry = ShapeEntry(shape, tuple(dict.fromkeys(peers)), origin)

        def change(desired: DesiredFaults) -> DesiredFaults:
            for service in services:
                desired = desired.with_shape(service, entry)
            return desired

        values = {"shape": entry.shape.to_dict(), "to": list(entry.to_services)}
        return self._change(origin, change, dry_run, services, values)

    def preset(
        self, name: PresetName, services: Sequence[str], *, dry_run: bool = False
    ) -> list[PlannedNamespace]:
        """Blockade's slow / flaky / duplicate, with the file's values or Blockade's."""
        text = getattr(self.presets(), name)
        return self.shape(services, parse_preset(name, text), origin=name, dry_run=dry_run)

    def fast(self, services: Sequence[str], *, dry_run: bool = False) -> list[PlannedNamespace]:
        """Remove all shaping from `services` (partitions stay: `join` heals those)."""
        chosen = set(services)
        return self._change("fast", lambda d: d.without_shapes(chosen), dry_run, services)

    def clear_origin(self, origin: str, *, dry_run: bool = False) -> list[PlannedNamespace]:
        """Remove the shapes `origin` made (`squall wan --clear`: every WAN link)."""
        affected = sorted(
            s for s, es in self._desired().shapes.items() if any(e.origin == origin for e in es)
        )
        return self._change(
            f"{origin} clear", lambda d: d.without_origin(origin), dry_run, affected
        )

    def partition(self, partition: Partition, *, dry_run: bool = False) -> list[PlannedNamespace]:
        """Replace the partition in force."""
        return self._change(
            "partition",
            lambda d: d.with_partition(partition),
            dry_run,
            sorted({s for c in partition.cuts for s in (c.src, c.dst)}),
            {"partition": partition.to_dict()},
        )

    def join(self, *, dry_run: bool = False) -> list[PlannedNamespace]:
        return self._change("join", lambda d: d.with_partition(Partition()), dry_run)

    def heal(self, *, start: Sequence[str] = (), unpause: Sequence[str] = ()) -> None:
        """Undo faults: heal the partition, remove every shape, then unpause and start
        the services named (those a chaos run or a test stopped, killed or paused).

        Only what is in force is undone, so healing a healthy cluster logs nothing.
        """
        desired = self._desired()
        if desired.partition:
            self.join()
        shaped = sorted(s for s, entries in desired.shapes.items() if entries)
        if shaped:
            self.fast(shaped)
        if unpause:
            self.act(unpause, Action.UNPAUSE)
        if start:
            self.act(start, Action.START)

    def probe(
        self,
        services: Sequence[str] = (),
        *,
        count: int = DEFAULT_COUNT,
        timeout: float = DEFAULT_TIMEOUT,
        throughput_seconds: float | None = None,
    ) -> ProbeReport:
        """Measure RTT, loss (and throughput) between running services; changes nothing."""
        if services:
            self.select_services(services)
        self._revive_watcher()
        return probe(
            self.project,
            self.backend.status(self.project),
            partition=self.desired_faults().partition,
            only=set(services),
            count=count,
            timeout=timeout,
            throughput_seconds=throughput_seconds,
        )

    def cluster_status(self, *, read_kernel: bool) -> ClusterStatus:
        """Services, their faults as desired, and (with `read_kernel`) the drift."""
        now = time.time()
        states = self.status()
        desired = self._desired().active(now)
        engine = self._engine()
        reports: dict[str, FaultReport] = {}
        if read_kernel:
            reports = {r.service: r for r in engine.inspect(desired, states, now)}
        shaper: ShaperStatus | None = engine.shaper()
        shaper_missed = any("shaper" in d for r in reports.values() for d in r.drift)
        if shaper is not None and not (shaper.running or shaper_missed):
            shaper = None
        services = []
        for state in states:
            report = reports.get(state.member)
            names = names_of(state)
            services.append(
                ServiceStatus(
                    state,
                    ServiceFaults(
                        shapes=tuple(s for n in names for s in describe_shapes(desired, n)),
                        cannot_reach=tuple(
                            sorted({c for n in names for c in cannot_reach(desired.partition, n)})
                        ),
                        drift=report.drift if report else (),
                        notes=report.notes if report else (),
                    ),
                )
            )
        return ClusterStatus(
            self.project,
            tuple(services),
            desired.partition,
            shaper,
            kernel_checked=read_kernel,
            watcher=self._watcher_status(desired, restart=read_kernel),
        )

    def _watcher_status(self, desired: DesiredFaults, *, restart: bool) -> WatcherStatus | None:
        """The watcher, when faults are in force (restarted if it died and `restart`)."""
        if desired.is_empty or not self.backend.watchable:
            return None
        if restart:
            self._keep_watching(desired)
        return watcher_status(self.state.path)
