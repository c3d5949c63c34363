"""The operations layer: every request on one cluster, run one way for every front end.

The CLI, the HTTP API and `squall.Cluster` parse their input into a request
(`squall.ops.requests`) and render the `Result`; everything between happens here:
the request is checked against the cluster (services, values) before anything
changes, run through the session (which holds the cluster's lock and logs the
event), and worded once.
"""

from __future__ import annotations

import contextlib
import random
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from squall.atomic import write_atomic
from squall.chaos import control as chaos_control
from squall.chaos.plan import (
    ChaosPlan,
    parse_count_span,
    parse_kinds,
    parse_seconds,
    parse_span,
    plan_chaos,
)
from squall.cluster_status import ClusterStatus
from squall.errors import ChaosError, ChaosRunning, ServiceNotFound, UsageError
from squall.events import Actor, Event
from squall.faults.controller import PlannedNamespace
from squall.faults.desired import ShapeEntry
from squall.faults.model import Partition
from squall.faults.partition import describe_partition
from squall.ops.blockade import OPTIONS_FILE, BlockadeChaosOptions
from squall.ops.opening import Say, Where, open_session
from squall.ops.parsing import build_isolation, build_partition, build_shape
from squall.ops.requests import (
    ActionRequest,
    BlockadeChaosRequest,
    ChangeRequest,
    ChaosRequest,
    ChaosStopRequest,
    DownRequest,
    HealRequest,
    JoinRequest,
    NetConnectRequest,
    NetCreateRequest,
    NetDisconnectRequest,
    NetRemoveRequest,
    PartitionRequest,
    PresetRequest,
    ProbeRequest,
    ReconcileRequest,
    RestoreRequest,
    ShapeRequest,
    Targets,
    UpRequest,
    WanRequest,
)
from squall.ops.results import Result, names
from squall.ops.wan import ORIGIN as WAN_ORIGIN
from squall.ops.wan import link_requests, wan_requests, zone_members
from squall.probe import ProbeReport
from squall.runtime.base import Action, Backend, NetworkState, Progress, ServiceState
from squall.runtime.members import Members, canonical, every_member, expand
from squall.session import Session
from squall.spec.model import FaultPresets, WanLink

if TYPE_CHECKING:
    # The runner is imported by the two methods that run chaos: a fault command
    # does not pay for it.
    from squall.chaos.runner import ChaosState, Stop, View

STOPPED_STATES = frozenset({"exited", "created", "dead"})


@dataclass
class Operations:
    """Requests in, results out, for one cluster. Constructing it does nothing.

    Args:
        session: the cluster's session (its lock, its event log, its backend).
        owns_backend: `close()` closes the backend (it was opened for this object).
    """

    session: Session
    owns_backend: bool = False
    rng: random.Random = field(default_factory=random.Random)
    """Draws `--random` targets."""

    @classmethod
    def open(
        cls,
        where: Where,
        *,
        need_file: bool = False,
        removing: bool = False,
        backend: Backend | None = None,
        actor: Actor | None = None,
        warn: Say | None = None,
        notice: Say | None = None,
        log: Say | None = None,
    ) -> Operations:
        """Operations on the cluster `where` names (see `squall.ops.opening`)."""
        session = open_session(
            where,
            need_file=need_file,
            removing=removing,
            backend=backend,
            actor=actor,
            warn=warn,
            notice=notice,
            log=log,
        )
        return cls(session, owns_backend=backend is None)

    def close(self) -> None:
        if self.owns_backend:
            self.session.backend.close()
            self.owns_backend = False

    @property
    def project(self) -> str:
        return self.session.project

    # Targets ----------------------------------------------------------------------

    def select(self, targets: Targets) -> list[str]:
        """Turn `SERVICE... | --all | --random` into service names, checking each.

        Raises:
            UsageError: not exactly one of the three.
            ServiceNotFound: a named service is not in the cluster.
        """
        return self.session.select_services(
            targets.services, all_services=targets.all, pick_random=targets.random, rng=self.rng
        )

    def _check_known(self, wanted: Sequence[str], members: Members) -> None:
        for name in wanted:
            if canonical(name, members) is None:
                known = every_member(members)
                raise ServiceNotFound(
                    f"no service {name!r} in cluster {self.project!r}; services: {names(known)}",
                    service=name,
                )

    # Changes ----------------------------------------------------------------------

    def run(self, request: ChangeRequest, progress: Progress | None = None) -> Result:
        """Check and run one change; the result says what it did.

        Raises:
            SquallError: the request is wrong (nothing changed) or a step failed.
        """
        match request:
            case ShapeRequest():
                return self._shape(request)
            case PresetRequest():
                return self._preset(request)
            case PartitionRequest():
                return self._partition(request)
            case WanRequest():
                return self._wan(request)
            case JoinRequest(dry_run=dry_run):
                planned = self.session.join(dry_run=dry_run)
                message = "joined: every service reaches every other"
                return Result("join", message, dry_run=dry_run, planned=tuple(planned))
            case RestoreRequest():
                return self._restore(request)
            case ReconcileRequest(dry_run=dry_run):
                planned = self.session.reconcile_faults(dry_run=dry_run)
                message = "reconciled: the kernel holds the faults in force"
                return Result("reconcile", message, dry_run=dry_run, planned=tuple(planned))
            case _:
                return self._run_lifecycle(request, progress)

    def _run_lifecycle(self, request: ChangeRequest, progress: Progress | None) -> Result:
        match request:
            case ActionRequest():
                return self._act(request)
            case HealRequest():
                return self._heal()
            case UpRequest(build=build, force=force, services=services, no_deps=no_deps):
                if no_deps and not services:
                    raise UsageError("--no-deps needs the services to start: up --no-deps SVC")
                started = self.session.up(
                    build=build,
                    force=force,
                    progress=progress,
                    services=services or None,
                    dependencies=not no_deps,
                )
                spec = self.session.cluster.spec
                for wan in wan_requests(spec) if spec is not None else ():
                    self._shape(wan)
                return Result("up", f"{self.project}: up", tuple(started))
            case DownRequest():
                return self._down(request, progress)
            case ChaosRequest():
                return self._start_chaos(request)
            case BlockadeChaosRequest():
                return self._blockade_chaos(request)
            case ChaosStopRequest(required=required):
                return self._stop_chaos(required)
            case _:
                return self._network(request)

    def _stop_chaos(self, required: bool) -> Result:
        pid = chaos_control.stop_chaos(self.session.state.path)
        if pid is None and required:
            raise ChaosError(f"no chaos run is going on cluster {self.project!r}")
        if pid is None:
            return Result("chaos stop", "no chaos run is going on this cluster")
        return Result("chaos stop", f"chaos run {pid} stopped and healed", pid=pid)

    def _shape(self, request: ShapeRequest) -> Result:
        members = self.session.members()
        # `db-1`, Compose's name for the one container of `db`, names `db` too.
        containers = {f"{name}-1" for name, found in members.items() if found == (name,)}
        known = {*members, *every_member(members), *containers}
        asked = build_shape(request.fields, known_services=known)
        services = self.select(request.targets)
        planned = self.session.shape(
            services,
            asked.shape,
            to_services=asked.to_services,
            origin=request.origin,
            dry_run=request.dry_run,
        )
        target = f" to {','.join(asked.to_services)}" if asked.to_services else ""
        duration = request.fields.get("duration")
        until = f" for {duration}" if duration else ""
        message = f"shaped {names(services)}: {asked.shape}{target}{until}"
        return Result("shape", message, tuple(services), request.dry_run, tuple(planned))

    def _zone_members(self) -> dict[str, tuple[str, ...]]:
        spec = self.session.cluster.spec
        if spec is None or not spec.options.zones:
            raise UsageError("zones come from the file's `x-squall: zones`; pass -f FILE")
        return zone_members(spec)

    def _zone_groups(self, groups: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        """`partition --zones eu us`: each zone's services are one group."""
        zones = self._zone_members()
        named = [zone for group in groups for zone in group]
        unknown = [zone for zone in named if zone not in zones]
        if unknown or len(named) < 2:
            raise UsageError(
                f"--zones names two or more of the zones {', '.join(sorted(zones))}"
                + (f" (unknown: {', '.join(unknown)})" if unknown else "")
            )
        return tuple(zones[zone] for zone in named)

    def _wan(self, request: WanRequest) -> Result:
        """One link changed live (its two shapes replace the ones it had), or all gone."""
        if request.clear:
            cleared = self.session.clear_origin(WAN_ORIGIN, dry_run=request.dry_run)
            return Result(
                "wan", "every WAN link cleared", dry_run=request.dry_run, planned=tuple(cleared)
            )
        zones = self._zone_members()
        if len(request.zones) != 2 or any(z not in zones for z in request.zones):
            raise UsageError(f"wan needs two zones of {', '.join(sorted(zones))}, or --clear")
        if request.rtt is None:
            raise UsageError("wan ZONE ZONE needs --rtt (e.g. 80ms)")
        first, second = request.zones
        link = WanLink((first, second), request.rtt, request.jitter, request.loss, request.rate)
        planned: list[PlannedNamespace] = []
        for shape in link_requests(link, zones):
            planned += self._shape(replace(shape, dry_run=request.dry_run)).planned
        message = f"wan {first}-{second}: rtt {request.rtt}"
        return Result("wan", message, zones[first] + zones[second], request.dry_run, tuple(planned))

    def _preset(self, request: PresetRequest) -> Result:
        services = self.select(request.targets)
        if request.preset == "fast":
            planned = self.session.fast(services, dry_run=request.dry_run)
            message = f"fast: {names(services)}"
        else:
            planned = self.session.preset(request.preset, services, dry_run=request.dry_run)
            value = getattr(self.presets(), request.preset)
            message = f"{request.preset}: {names(services)} ({value})"
        return Result(request.preset, message, tuple(services), request.dry_run, tuple(planned))

    def _partition(self, request: PartitionRequest) -> Result:
        """Partitions cut members: `api` stands for each of its replicas, `api-2` for
        one, and the replicas not named are in the group of the rest."""
        if request.zones:
            request = replace(request, groups=self._zone_groups(request.groups), zones=False)
        members = self.session.members()
        self._check_known([n for group in request.groups for n in group], members)
        known = every_member(members)
        holy, neutral = (set(expand(names, members)) for names in self.session.roles())
        if request.isolate:
            if request.groups or request.one_way or request.random or request.shape is not None:
                raise UsageError(
                    "isolate, groups, one_way, random and shape exclude each other: pick one"
                )
            self._check_known(request.isolate, members)
            isolated = [expand([name], members) for name in request.isolate]
            cut = build_isolation(isolated, known=known, holy=holy, neutral=neutral)
        else:
            cut = build_partition(
                [expand(group, members) for group in request.groups],
                services=known,
                holy=holy,
                neutral=neutral,
                one_way_cut=request.one_way,
                pick_random=request.random,
                jepsen_shape=request.shape,
                seed=request.seed,
            )
        planned = self.session.partition(cut, dry_run=request.dry_run)
        touched = tuple(sorted({s for c in cut.cuts for s in (c.src, c.dst)}))
        return Result(
            "partition",
            describe_partition(cut),
            touched,
            request.dry_run,
            tuple(planned),
            partition=cut,
        )

    def _restore(self, request: RestoreRequest) -> Result:
        planned = []
        if request.partition is not None:
            if request.partition:
                planned = self.session.partition(request.partition)
            else:
                planned = self.session.join()
        if request.shapes:
            planned = self.session.restore_shapes(request.shapes)
        services = tuple(sorted(request.shapes))
        return Result(
            "restore", "restored the faults in force before", services, False, tuple(planned)
        )

    def _act(self, request: ActionRequest) -> Result:
        action = request.action
        if request.signal is not None and action is not Action.KILL:
            raise UsageError("a signal is only for the kill action")
        services = self.select(request.targets)
        signal = (request.signal or "SIGKILL") if action is Action.KILL else None
        self.session.act(services, action, signal=signal)
        return Result(str(action), f"{action}: {names(services)}", tuple(services))

    def _heal(self) -> Result:
        states = self.session.status()
        self.session.heal(
            start=[s.member for s in states if s.state in STOPPED_STATES],
            unpause=[s.member for s in states if s.state == "paused"],
        )
        return Result("heal", "healed: joined, fast, stopped and paused services back")

    def _down(self, request: DownRequest, progress: Progress | None) -> Result:
        # A chaos run heals through the lock, so it is stopped before `down` takes it.
        chaos_control.stop_chaos(self.session.state.path)
        self.session.down(volumes=request.volumes, images=request.images, progress=progress)
        return Result("down", f"{self.project}: down")

    def _network(self, request: ChangeRequest) -> Result:
        match request:
            case NetCreateRequest(name=name, subnet=subnet, internal=internal):
                made = self.session.create_network(name, subnet=subnet, internal=internal)
                subnets = ",".join(made.subnets) or "-"
                message = f"network {made.name} created ({made.backend_name}, {subnets})"
                return Result("net create", message, network=made)
            case NetRemoveRequest(name=name):
                self.session.remove_network(name)
                return Result("net rm", f"network {name} removed")
            case NetConnectRequest(network=network, service=service, aliases=aliases):
                self.session.connect(network, service, aliases=aliases)
                return Result("net connect", f"{service} connected to {network}", (service,))
            case NetDisconnectRequest(network=network, service=service):
                self.session.disconnect(network, service)
                return Result(
                    "net disconnect", f"{service} disconnected from {network}", (service,)
                )
        raise TypeError(f"not a request: {request!r}")

    # Chaos ------------------------------------------------------------------------

    def plan_chaos(self, request: ChaosRequest, *, seed: int | None = None) -> ChaosPlan:
        """The timeline `request` gives on this cluster (its seed, else `seed`, else a
        random one). Every option is checked here, so a bad one changes nothing.

        Raises:
            UsageError: an option does not parse.
            ChaosError: the kinds cannot apply to these services.
        """
        duration = parse_seconds(request.duration, "--duration")
        if duration <= 0:
            raise UsageError(f"--duration {request.duration}: must be more than 0")
        # Chaos draws containers: a replicated service's replicas are drawn one by one.
        members = self.session.members()
        holy, neutral = (set(expand(names, members)) for names in self.session.roles())
        chosen = request.seed if request.seed is not None else seed
        return plan_chaos(
            every_member(members),
            seed=chosen if chosen is not None else secrets.randbelow(2**31),
            duration=duration,
            kinds=parse_kinds(request.events),
            interval=parse_span(request.interval, "--interval"),
            hold=parse_span(request.hold, "--hold"),
            at_once=parse_count_span(request.at_once, "--at-once"),
            holy=holy,
            neutral=neutral,
        )

    def run_chaos(self, plan: ChaosPlan, stop: Stop, view: View | None = None) -> ChaosState:
        """Run `plan` here until it ends or `stop` is set; heals on every way out.

        Raises:
            ChaosRunning: another run is going on the cluster.
        """
        from squall.chaos.runner import ChaosRunner, new_run_id

        run = new_run_id()
        self.session.actor = Actor("chaos", run=run, extra={"seed": plan.seed})
        with chaos_control.pidfile(self.session.state.ensure()):
            return ChaosRunner(self.session, stop, view).run(plan, run)

    def replay_chaos(
        self, recorded: Sequence[Event], stop: Stop, view: View | None = None
    ) -> ChaosState:
        """Make a recorded run's changes again at the same offsets (see `ChaosRunner`)."""
        from squall.chaos.runner import ChaosRunner, new_run_id

        run = new_run_id()
        original = recorded[0].run if recorded else None
        self.session.actor = Actor("chaos", run=run, extra={"replay_of": original})
        with chaos_control.pidfile(self.session.state.ensure()):
            return ChaosRunner(self.session, stop, view).replay(recorded, run)

    def _start_chaos(self, request: ChaosRequest) -> Result:
        plan = self.plan_chaos(request)
        spec = self.session.cluster.spec
        if spec is None:
            raise ChaosError("a chaos run needs the cluster file")
        run = chaos_control.DetachedRun(
            files=[str(f) for f in spec.files or (spec.source,)],
            project_directory=str(spec.project_dir),
            profiles=list(spec.active_profiles),
            project=self.project,
            backend=self.session.backend.name,
            state_root=str(self.session.state.root),
            request={**asdict(request), "seed": plan.seed},
        )
        pid = chaos_control.start_detached(self.session.state.ensure(), run)
        message = f"chaos running in the background: pid {pid}, seed {plan.seed}"
        return Result("chaos", message, plan.services, pid=pid, seed=plan.seed)

    def _blockade_chaos(self, request: BlockadeChaosRequest) -> Result:
        """Blockade's chaos: its options checked and kept, then run as `squall chaos`."""
        kept = self.session.state.path / OPTIONS_FILE
        running = self.chaos_running()
        base = None
        if request.update:
            if running is None:
                raise ChaosError(f"no chaos run is going on cluster {self.project!r} to update")
            with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
                base = BlockadeChaosOptions.from_json(kept.read_text())
        elif running is not None:
            raise ChaosRunning(f"a chaos run is going on this cluster already (pid {running})")
        options = BlockadeChaosOptions.parse(request.options, base)
        holy, _ = self.session.roles()
        targets = [s for s in self.session.known_services() if s not in holy]
        chaos = options.request(len(targets))
        self.plan_chaos(chaos)
        if request.update:
            chaos_control.stop_chaos(self.session.state.path)
        result = self._start_chaos(chaos)
        write_atomic(kept, options.to_json())
        return result

    def chaos_running(self) -> int | None:
        return chaos_control.running_chaos(self.session.state.path)

    def chaos_in_round(self) -> bool:
        """True while the running chaos run holds a round's faults (Blockade's DEGRADED)."""
        return chaos_control.in_round(self.session.state.path)

    # Reads ------------------------------------------------------------------------

    def status(self, *, read_kernel: bool) -> ClusterStatus:
        return self.session.cluster_status(read_kernel=read_kernel)

    def services(self) -> list[ServiceState]:
        return self.session.status()

    def networks(self) -> list[NetworkState]:
        return self.session.networks()

    def shapes(self) -> dict[str, tuple[ShapeEntry, ...]]:
        """The shapes in force per service (services without one left out)."""
        desired = self.session.desired_faults()
        return {s: tuple(e) for s, e in sorted(desired.shapes.items()) if e}

    def partition(self) -> Partition:
        return self.session.desired_faults().partition

    def presets(self) -> FaultPresets:
        return self.session.presets()

    def roles(self) -> tuple[set[str], set[str]]:
        return self.session.roles()

    def probe(self, request: ProbeRequest) -> ProbeReport:
        return self.session.probe(
            request.services,
            count=request.count,
            timeout=request.timeout,
            throughput_seconds=request.throughput_seconds,
        )

    def events(self) -> list[Event]:
        return self.session.events()

    def events_path(self) -> Path:
        return self.session.events_path()

    def logs(
        self, service: str, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[bytes]:
        return self.session.logs(service, follow=follow, tail=tail)

    def exec(self, service: str, argv: Sequence[str], *, tty: bool = False) -> int:
        return self.session.exec(service, argv, tty=tty)


__all__ = ["Operations"]
