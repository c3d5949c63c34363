"""The netns backend: a `ClusterSpec` made real without Docker, the way Mininet runs hosts.

Each service is a process group on the host, in a network namespace of its own
(`/run/netns/squall-<project>.<service>`, kept while the cluster exists, so its
address and its fault rules survive restarts) and a mount namespace of its own where
the service's /etc/hosts and /etc/resolv.conf are bound over the host's. Each compose
network is a Linux bridge with its own subnet; a service joins it through a veth pair.
Names resolve through the hosts files: a service sees the names (and aliases) of the
services it shares a network with, and nothing else.

Levels (as the Docker backend): `kernel` runs `ip`/`iptables` 1:1 (through the one
command runner, `squall.linux.commands`); `topology` reads bridges, veths and
addresses back from the kernel and hands out new ones; `plan` decides, as data, what
the host must change (`NetworkChange`), and `NetnsBackend._apply` is the one place
that makes the change; `service` turns a compose service into what the supervisor
runs; `supervisor` is the detached parent of every service process (restarts,
healthchecks, ports), told what to do through `config`; `actions`, `status` and
`files` hold the pure parts of `act`, `status` and the per-service files. This
module ties them together. Names are in `naming`: everything is found again from the
kernel by the names and ifalias labels it gave, so `down` also works after a crash
and without the state directory.
"""

from __future__ import annotations

import shutil
import signal
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from squall.errors import BackendError, ServiceNotFound
from squall.linux.commands import Log
from squall.linux.procs import netns_inode, pids_in, signal_all
from squall.runtime.base import (
    Action,
    Backend,
    NetworkState,
    Progress,
    ServiceChange,
    ServiceState,
    SilentProgress,
    Waits,
)
from squall.runtime.netns import naming, watch
from squall.runtime.netns.actions import acted, is_active, settled, signal_number
from squall.runtime.netns.config import (
    ServiceConfig,
    ServiceReport,
    SupervisorConfig,
    SupervisorReport,
    apply_config,
    find_supervisors,
    running_supervisor,
    start_supervisor,
    stop_supervisor,
    wait_report,
)
from squall.runtime.netns.files import read_log, rewrite_hosts, write_service_files
from squall.runtime.netns.kernel import Kernel, allocation_lock, netns_names, require_root
from squall.runtime.netns.plan import (
    RULE_HOOKS,
    NetworkChange,
    Placement,
    check_network_modes,
    forward_rules,
    placement,
    plan_connect,
    plan_disconnect,
    plan_new_network,
    plan_remove_network,
    plan_up,
    removal_rules,
    rules_present,
)
from squall.runtime.netns.service import Command, ignored, service_command, service_config
from squall.runtime.netns.spawn import resolve_user, spawn
from squall.runtime.netns.status import network_states, service_states
from squall.runtime.netns.topology import Topology, squall_subnets
from squall.spec import graph
from squall.spec.model import ClusterSpec
from squall.state import default_state_root

START_EACH = 0.05
"""Seconds `up` allows per service on top of its 30 s to see them all started."""


class NetnsBackend(Backend):
    """Clusters as processes in network namespaces on Linux bridges. Needs root.

    Args:
        state_root: where clusters' state directories are (default: the same as the
            session's, `$SQUALL_STATE_DIR` or `~/.local/state/squall`); logs and the
            supervisor's files go to `<state_root>/<project>/netns/`.
        waits: how long `stop`/`restart`/`down` and dependencies are waited for.
        log: receives every `ip`/`iptables` command (`-v`).
    """

    name = "netns"

    def __init__(
        self, state_root: Path | None = None, waits: Waits | None = None, log: Log | None = None
    ) -> None:
        super().__init__(waits)
        self._state_root = state_root
        self._kernel = Kernel(log)

    @property
    def state_root(self) -> Path:
        return self._state_root if self._state_root is not None else default_state_root()

    def paths(self, project: str) -> naming.StatePaths:
        return naming.state_paths(self.state_root / project)

    # -- up ------------------------------------------------------------------------------

    def _up(self, spec: ClusterSpec, build: bool, force: bool, progress: Progress) -> None:
        """Idempotent: existing namespaces, bridges, veths and addresses are kept; running
        services whose command, environment, healthcheck or ports are unchanged are left
        alone, changed ones restart, stopped ones start. `force` restarts every service.
        `build` has no meaning here (there are no images).

        Raises:
            BackendError: not root, a service has nothing to run, a subnet clashes with
                the host's routes, a port cannot be published, or a dependency never
                became healthy / did not complete.
        """
        require_root()
        project = spec.name
        graph.start_order(spec)  # cycles are a SpecError before anything is made
        placements = {s.name: placement(project, s) for s in spec.services}
        check_network_modes(spec, placements)
        for note in ignored(spec):
            progress.step(project, note)
        commands = {}
        for service in spec.services:
            commands[service.name] = service_command(service)
            resolve_user(service.user)  # an unknown user fails before anything is made
            if commands[service.name].notice:
                progress.step(service.name, str(commands[service.name].notice))
        paths = self.paths(project)
        early = None
        if running_supervisor(paths, project) is None:
            # Its Python start-up overlaps with making the network.
            early = start_supervisor(paths, project, idle=True)
        try:
            with allocation_lock():
                topology = self._build_network(spec, placements, force, progress)
            write_service_files(paths, spec, topology, placements)
            self._up_services(paths, spec, commands, placements, topology, force, early, progress)
        except BaseException:
            report = SupervisorReport.read(paths.status)
            if early is not None and (report is None or report.pid != early):
                stop_supervisor(early, 1.0)  # never told what to run: nothing to keep
            raise
        progress.step(project, f"{len(spec.services)} service(s) up", done=True)

    def _up_services(
        self,
        paths: naming.StatePaths,
        spec: ClusterSpec,
        commands: Mapping[str, Command],
        placements: Mapping[str, Placement],
        topology: Topology,
        force: bool,
        early: int | None,
        progress: Progress,
    ) -> None:
        project = spec.name
        previous = SupervisorConfig.read(paths.config)
        report = SupervisorReport.read(paths.status)
        if running_supervisor(paths, project) is None:
            report = None
        services: dict[str, ServiceConfig] = {}
        for service in spec.services:
            placement = placements[service.name]
            old = previous.services.get(service.name) if previous else None
            seen = report.services.get(service.name) if report else None
            generation = old.generation if old else 1
            if old is not None and (force or not is_active(seen)):
                generation += 1
            services[service.name] = service_config(
                spec,
                service,
                command=commands[service.name],
                topology=topology,
                netns=naming.netns_path(project, placement.owner) if placement.netns else None,
                hosts=str(paths.hosts(service.name)),
                resolv=str(paths.resolv(service.name)),
                generation=generation,
            )
        known = set(services)
        if previous is not None:
            for name, old in previous.services.items():
                if name not in known:  # left alone, like the Docker backend; `down` removes it
                    progress.step(name, "not in the cluster file (left alone; `down` removes it)")
                    services[name] = old
        config = SupervisorConfig(project, stop_timeout=self.waits.stop, services=services)
        self._start(paths, config, spec, early, progress)

    def _build_network(
        self,
        spec: ClusterSpec,
        placements: Mapping[str, Placement],
        force: bool,
        progress: Progress,
    ) -> Topology:
        """Namespaces, bridges, veths, addresses, routes and host rules, in a few batches."""
        links = self._kernel.links()
        current = Topology.from_kernel(spec.name, links, netns_names())
        taken = [*self._kernel.routed_subnets(), *squall_subnets(links)]
        change = plan_up(spec, placements, current, taken, force=force)
        self._apply(spec.name, change, progress)
        return change.topology

    def _apply(self, project: str, change: NetworkChange, progress: Progress | None = None) -> None:
        """Make the host match a planned change: the one place that changes its links."""
        progress = progress or SilentProgress()
        for network in change.new_networks:
            progress.step(f"network {network.name}", f"bridge {network.bridge} {network.subnet}")
        if change.host:
            progress.step(project, change.summary())
            self._kernel.batch(change.host)
        self._kernel.batches(change.inside)
        if change.rewrite_rules or (change.ensure_rules and not self._rules_present(project)):
            self._write_rules(project, change.topology)

    def _start(
        self,
        paths: naming.StatePaths,
        config: SupervisorConfig,
        spec: ClusterSpec,
        early: int | None,
        progress: Progress,
    ) -> None:
        shown: dict[str, str] = {}

        def on_report(report: SupervisorReport) -> None:
            for name, service in report.services.items():
                text = service.state if service.state != "waiting" else service.error or ""
                if shown.get(name) != text:
                    shown[name] = text
                    progress.step(name, text, done=service.state == "running")

        def done(report: SupervisorReport) -> bool:
            for name, cfg in config.services.items():
                service = report.services.get(name)
                if service is None:
                    return False
                if service.state == "blocked" or (service.error and service.state == "running"):
                    raise BackendError(
                        f"service {name!r}: {service.error}"
                        + _log_hint(paths, name, service.state),
                        service=name,
                    )
                if service.generation < cfg.generation or service.state == "waiting":
                    return False
            return True

        report = apply_config(paths, config, started=early)
        wait_report(
            paths,
            config.project,
            report.pid,
            done,
            self._start_budget(spec),
            on_report=on_report,
        )

    def _start_budget(self, spec: ClusterSpec) -> float:
        # Each start is a fork in the supervisor: on a busy 2-core host 1000 took 40 s.
        budget = 30.0 + START_EACH * len(spec.services) + sum(s.start_delay for s in spec.services)
        for service in spec.services:
            for dependency in service.depends_on:
                target = spec.service(dependency.service)
                if dependency.condition == "service_healthy" and target and target.healthcheck:
                    check = target.healthcheck
                    budget += self.waits.health or (
                        check.start_period + (check.interval + check.timeout) * (check.retries + 1)
                    )
                elif dependency.condition == "service_completed_successfully":
                    budget += self.waits.completion
        return budget

    # -- host rules ----------------------------------------------------------------------

    def _rules_present(self, project: str) -> bool:
        return rules_present(project, self._kernel.iptables_save("filter"))

    def _saved_rules(self) -> dict[str, str]:
        return {table: self._kernel.iptables_save(table) for table, _hook in RULE_HOOKS}

    def _write_rules(self, project: str, topology: Topology) -> None:
        """The project's FORWARD and NAT rules, replaced atomically per table."""
        self._kernel.iptables_restore(forward_rules(project, topology, self._saved_rules()))

    def _remove_rules(self, project: str) -> None:
        text = removal_rules(project, self._saved_rules())
        if text:
            self._kernel.iptables_restore(text)

    # -- down ----------------------------------------------------------------------------

    def _down(self, project: str, volumes: bool, images: bool, progress: Progress) -> None:
        """Stop every service, then remove namespaces, veths, bridges and rules.

        `volumes` and `images` have nothing to act on: this backend builds no images and
        keeps no named volumes.

        Works without the cluster file and without the state directory: the supervisor
        is found by its argv, processes by the namespace they live in, links by name and
        ifalias, rules by chain name. Checks afterwards that nothing is left.

        Raises:
            BackendError: something of the project is still there afterwards.
        """
        require_root()
        paths = self.paths(project)
        supervisors = set(find_supervisors(project))
        pid = running_supervisor(paths, project)
        if pid is not None:
            supervisors.add(pid)
        for supervisor in sorted(supervisors):
            progress.step(project, f"stopping services (supervisor {supervisor})")
            stop_supervisor(supervisor, self.waits.stop + 3.0)
        topology = Topology.from_kernel(project, self._kernel.links(), netns_names())
        self._kill_namespaces(project, topology.namespaces, progress)
        # Namespaces first: the kernel then destroys their veths in one batch, which is
        # far faster than deleting veths one by one (each waits for an RCU grace period).
        lines = [f"netns del {naming.netns_name(project, s)}" for s in topology.namespaces]
        lines += [f"link del {n.bridge}" for n in topology.networks]
        if lines:
            progress.step(
                project,
                f"removing {len(topology.namespaces)} namespace(s), "
                f"{len(topology.networks)} bridge(s)",
            )
            self._kernel.batch(lines, force=True)
        self._remove_rules(project)
        shutil.rmtree(paths.root, ignore_errors=True)
        left = self._wait_links_gone(project)
        leftovers = [*left.link_names(), *(naming.netns_name(project, s) for s in left.namespaces)]
        if self._rules_present(project):
            leftovers.append(f"iptables chain {naming.chain_name(project)}")
        if leftovers:
            raise BackendError(f"down {project!r} left things behind: {', '.join(leftovers)}")
        progress.step(project, "down", done=True)

    def _wait_links_gone(self, project: str, timeout: float = 10.0) -> Topology:
        """The project's links vanish with their namespaces, asynchronously; wait, then
        delete the stragglers (veths whose namespace end was elsewhere)."""
        deadline = time.monotonic() + timeout
        while True:
            left = Topology.from_kernel(project, self._kernel.links(), netns_names())
            if not left.link_names() or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if left.link_names():
            self._kernel.batch([f"link del {name}" for name in left.link_names()], force=True)
            left = Topology.from_kernel(project, self._kernel.links(), netns_names())
        return left

    def _kill_namespaces(self, project: str, services: Sequence[str], progress: Progress) -> None:
        inodes = {
            ino: name
            for name in services
            if (ino := netns_inode(naming.netns_path(project, name))) is not None
        }
        if not inodes:
            return
        deadline = time.monotonic() + 5.0
        while True:
            found = [pid for pids in pids_in(inodes).values() for pid in pids]
            if not found:
                return
            if time.monotonic() > deadline:
                raise BackendError(
                    f"processes {', '.join(map(str, found[:10]))} do not die in the "
                    f"namespaces of {project!r}"
                )
            progress.step(project, f"killing {len(found)} process(es) left in its namespaces")
            signal_all(found, signal.SIGKILL)
            time.sleep(0.05)

    # -- reading state -------------------------------------------------------------------

    def _report(self, paths: naming.StatePaths, project: str) -> SupervisorReport | None:
        if running_supervisor(paths, project) is None:
            return None
        return SupervisorReport.read(paths.status)

    def _topology(self, project: str) -> Topology:
        return Topology.from_kernel(project, self._kernel.links(), netns_names())

    def status(self, project: str) -> list[ServiceState]:
        """Services as the supervisor and the kernel see them, sorted by name.

        Without a supervisor (it was killed), a service counts as running while any
        process lives in its namespace.
        """
        paths = self.paths(project)
        topology = self._topology(project)
        config = SupervisorConfig.read(paths.config)
        report = self._report(paths, project)
        unsupervised: dict[str, list[int]] = {}
        if report is None:
            names = set(topology.namespaces) | (set(config.services) if config else set())
            inodes = {
                ino: name
                for name in names
                if (ino := netns_inode(naming.netns_path(project, name))) is not None
            }
            unsupervised = pids_in(inodes)
        return service_states(project, topology, config, report, unsupervised)

    def networks(self, project: str) -> list[NetworkState]:
        return network_states(self._topology(project))

    def logs(
        self, project: str, service: str, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[bytes]:
        """The service's output (stdout and stderr, as written), from its log file.

        With `follow`, keeps yielding until the service is no longer running.
        """
        self._config(project, service)
        path = self.paths(project).log(service)
        return read_log(
            path, follow=follow, tail=tail, running=lambda: self._running(project, service)
        )

    def _running(self, project: str, service: str) -> bool:
        report = self._report(self.paths(project), project)
        return is_active(report.services.get(service) if report else None)

    def exec(self, project: str, service: str, argv: Sequence[str], *, tty: bool = False) -> int:
        """Run `argv` in the service's namespaces, environment, user and directory.

        stdin, stdout and stderr are this process's own (so a terminal just works).

        Raises:
            ServiceNotFound: no such service; BackendError: it is not running.
        """
        if not argv:
            raise BackendError("exec needs a command to run", service=service)
        cfg = self._config(project, service)
        if not self._running(project, service):
            raise BackendError(f"service {service!r} is not running", service=service)
        sys.stdout.flush()
        sys.stderr.flush()
        proc = spawn(cfg.launch.with_argv(argv), stdin=None, new_session=False)
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                proc.send_signal(signal.SIGINT)

    # -- actions -------------------------------------------------------------------------

    def act(
        self, project: str, services: Sequence[str], action: Action, *, signal: str | None = None
    ) -> None:
        """Start, stop, restart, kill (with `signal`), pause or unpause services.

        Raises:
            ServiceNotFound: a service is not in the cluster (all checked first).
        """
        require_root()
        paths = self.paths(project)
        for name in services:
            self._config(project, name)
        config = SupervisorConfig.read(paths.config)
        assert config is not None
        report = self._report(paths, project)
        signum = signal_number(signal) if action is Action.KILL else None
        changed = dict(config.services)
        for name in services:
            seen = report.services.get(name) if report else None
            changed[name] = acted(changed[name], seen, action, signum)
        report = apply_config(paths, replace(config, services=changed))
        wait_report(
            paths,
            project,
            report.pid,
            lambda r: settled(r, changed, services, action),
            self.waits.stop + 10.0,
        )

    # -- ad-hoc networks (`squall net`) --------------------------------------------------

    def create_network(
        self, project: str, name: str, *, subnet: str | None = None, internal: bool = False
    ) -> NetworkState:
        """A new bridge for `project` (kept by `up`, removed by `down`).

        Raises:
            BackendError: a network of that name exists, or the subnet clashes.
        """
        require_root()
        with allocation_lock():
            links = self._kernel.links()
            topology = Topology.from_kernel(project, links, netns_names())
            taken = [*self._kernel.routed_subnets(), *squall_subnets(links)]
            change = plan_new_network(
                project, topology, taken, name, subnet=subnet, internal=internal
            )
            self._apply(project, change)
        return next(n for n in self.networks(project) if n.name == name)

    def remove_network(self, project: str, name: str) -> None:
        """Remove a network no service is attached to.

        Raises:
            BackendError: unknown network, or services still attached (named).
        """
        require_root()
        with allocation_lock():
            self._apply(project, plan_remove_network(project, self._topology(project), name))

    def connect(
        self, project: str, network: str, service: str, *, aliases: Sequence[str] = ()
    ) -> None:
        """Attach a (running or stopped) service to `network`, known there by `aliases`.

        Every service's hosts file is rewritten in place, so names resolve at once.
        """
        require_root()
        with allocation_lock():
            topology = self._topology(project)
            change = plan_connect(project, topology, network, service, aliases)
            self._apply(project, change)
        self._rewrite_hosts(project, change.topology)

    def disconnect(self, project: str, network: str, service: str) -> None:
        require_root()
        with allocation_lock():
            change = plan_disconnect(project, self._topology(project), network, service)
            self._apply(project, change)
        self._rewrite_hosts(project, change.topology)

    def _rewrite_hosts(self, project: str, topology: Topology) -> None:
        rewrite_hosts(self.paths(project), topology)

    watchable = True

    def watch(self, project: str, since: float | None = None) -> Iterator[ServiceChange]:
        """Service (re)starts, from the supervisor's report (polled: one `stat` a tick)."""
        path = self.paths(project).status
        seen: dict[str, ServiceReport] = {}
        stamp: int | None = None
        while True:
            written: int | None
            try:
                written = path.stat().st_mtime_ns
            except OSError:
                written = stamp  # no report yet, or the cluster is going down
            report = SupervisorReport.read(path) if written != stamp else None
            stamp = written
            if report is not None:
                yield from watch.started(seen, report, since)
                seen, since = dict(report.services), None
            time.sleep(watch.POLL_SECONDS)

    # -- helpers -------------------------------------------------------------------------

    def _config(self, project: str, service: str) -> ServiceConfig:
        config = SupervisorConfig.read(self.paths(project).config)
        if config is None:
            raise ServiceNotFound(
                f"cluster {project!r} has no services on the netns backend; run `up`",
                service=service,
            )
        cfg = config.services.get(service)
        if cfg is None:
            raise ServiceNotFound(
                f"cluster {project!r} has no service {service!r} "
                f"(known: {', '.join(sorted(config.services))})",
                service=service,
            )
        return cfg


def _log_hint(paths: naming.StatePaths, service: str, state: str) -> str:
    return f" (see {paths.log(service)})" if state != "running" else ""


__all__ = ["NetnsBackend"]
