"""The netns backend: a `ClusterSpec` made real without Docker, the way Mininet runs hosts.

Each service is a process group on the host, in a network namespace of its own
(`/run/netns/squall-<project>.<service>`, kept while the cluster exists, so its
address and its fault rules survive restarts) and a mount namespace of its own where
the service's /etc/hosts and /etc/resolv.conf are bound over the host's. Each compose
network is a Linux bridge with its own subnet; a service joins it through a veth pair.
Names resolve through the hosts files: a service sees the names (and aliases) of the
services it shares a network with, and nothing else.

Levels (as the Docker backend): `netns_kernel` runs `ip`/`iptables` 1:1 and
translates their failures; `netns_topology` plans bridges, veths and addresses as
data; `netns_service` turns a compose service into what the supervisor runs;
`netns_supervisor` is the detached parent of every service process (restarts,
healthchecks, ports); this module ties them together. Names are in `netns_naming`:
everything is found again from the kernel by the names and ifalias labels it gave, so
`down` also works after a crash and without the state directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
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
    NetworkAddress,
    NetworkState,
    Progress,
    ServiceState,
    SilentProgress,
)
from squall.runtime.netns import naming
from squall.runtime.netns.config import (
    ServiceConfig,
    SupervisorConfig,
    SupervisorReport,
    apply_config,
    find_supervisors,
    running_supervisor,
    start_supervisor,
    stop_supervisor,
    wait_report,
)
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
from squall.runtime.netns.service import (
    Command,
    extras_from_json,
    hosts_extras,
    ignored,
    service_command,
    service_config,
)
from squall.runtime.netns.spawn import resolve_user, spawn
from squall.runtime.netns.topology import (
    Topology,
    default_gateway,
    hosts_file,
    resolv_conf,
    squall_subnets,
)
from squall.spec import graph
from squall.spec.model import ClusterSpec
from squall.state import default_state_root

ACTIVE = ("running", "paused", "restarting")
HOST_RESOLV = Path("/etc/resolv.conf")
_STATE_NAMES = {"waiting": "created", "blocked": "created"}


class NetnsBackend(Backend):
    """Clusters as processes in network namespaces on Linux bridges. Needs root.

    Args:
        state_root: where clusters' state directories are (default: the same as the
            session's, `$SQUALL_STATE_DIR` or `~/.local/state/squall`); logs and the
            supervisor's files go to `<state_root>/<project>/netns/`.
        stop_timeout: seconds `stop`/`restart`/`down` give a service before SIGKILL.
        health_timeout: upper bound on waiting for `service_healthy` (default: derived
            from the healthchecks' own timings, as on Docker).
        log: receives every `ip`/`iptables` command (`-v`).
    """

    name = "netns"

    def __init__(
        self,
        state_root: Path | None = None,
        *,
        stop_timeout: float = 10.0,
        health_timeout: float | None = None,
        completion_timeout: float = 600.0,
        log: Log | None = None,
    ) -> None:
        self._state_root = state_root
        self.stop_timeout = stop_timeout
        self.health_timeout = health_timeout
        self.completion_timeout = completion_timeout
        self._kernel = Kernel(log)

    @property
    def state_root(self) -> Path:
        return self._state_root if self._state_root is not None else default_state_root()

    def paths(self, project: str) -> naming.StatePaths:
        return naming.state_paths(self.state_root / project)

    # -- up ------------------------------------------------------------------------------

    def up(
        self,
        spec: ClusterSpec,
        *,
        build: bool = False,
        force: bool = False,
        progress: Progress | None = None,
    ) -> None:
        """Create what is missing, then start every service in `depends_on` order.

        Idempotent: existing namespaces, bridges, veths and addresses are kept; running
        services whose command, environment, healthcheck or ports are unchanged are left
        alone, changed ones restart, stopped ones start. `force` restarts every service.
        `build` has no meaning here (there are no images).

        Raises:
            BackendError: not root, a service has nothing to run, a subnet clashes with
                the host's routes, a port cannot be published, or a dependency never
                became healthy / did not complete.
        """
        require_root()
        progress = progress or SilentProgress()
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
            self._write_files(paths, spec, topology, placements)
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
            if old is not None and (force or seen is None or seen.state not in ACTIVE):
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
        config = SupervisorConfig(project, stop_timeout=self.stop_timeout, services=services)
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

    def _write_files(
        self,
        paths: naming.StatePaths,
        spec: ClusterSpec,
        topology: Topology,
        placements: Mapping[str, Placement],
    ) -> None:
        host_resolv = _read(HOST_RESOLV)
        for service in spec.services:
            owner = placements[service.name].owner
            extras = hosts_extras(service)
            _write_in_place(paths.hosts(service.name), hosts_file(service.name, topology, extras))
            _write_in_place(
                paths.resolv(service.name),
                resolv_conf(host_resolv, default_gateway(topology, owner) is None),
            )

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
        budget = 30.0 + sum(s.start_delay for s in spec.services)
        for service in spec.services:
            for dependency in service.depends_on:
                target = spec.service(dependency.service)
                if dependency.condition == "service_healthy" and target and target.healthcheck:
                    check = target.healthcheck
                    budget += self.health_timeout or (
                        check.start_period + (check.interval + check.timeout) * (check.retries + 1)
                    )
                elif dependency.condition == "service_completed_successfully":
                    budget += self.completion_timeout
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

    def down(
        self,
        project: str,
        *,
        volumes: bool = False,
        images: bool = False,
        progress: Progress | None = None,
    ) -> None:
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
        progress = progress or SilentProgress()
        paths = self.paths(project)
        supervisors = set(find_supervisors(project))
        pid = running_supervisor(paths, project)
        if pid is not None:
            supervisors.add(pid)
        for supervisor in sorted(supervisors):
            progress.step(project, f"stopping services (supervisor {supervisor})")
            stop_supervisor(supervisor, self.stop_timeout + 3.0)
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
        names = set(topology.namespaces)
        if config is not None:
            names |= set(config.services)
        unsupervised: dict[str, list[int]] = {}
        if report is None:
            inodes = {
                ino: name
                for name in names
                if (ino := netns_inode(naming.netns_path(project, name))) is not None
            }
            unsupervised = pids_in(inodes)
        states = []
        for name in sorted(names):
            cfg = config.services.get(name) if config else None
            netns_path = cfg.launch.netns if cfg else naming.netns_path(project, name)
            owner = _owner(project, name, netns_path)
            seen = report.services.get(name) if report else None
            if seen is not None:
                state = _STATE_NAMES.get(seen.state, seen.state)
                pid, health, ports = seen.pid, seen.health, seen.ports
            else:
                pids = sorted(unsupervised.get(name, ()))
                state = "running" if pids else "exited"
                pid, health, ports = (pids[0] if pids else None), None, ()
            addresses = tuple(
                NetworkAddress(a.network, str(a.ip), a.prefix_len, (name, *a.aliases))
                for a in sorted(topology.of_service(owner), key=lambda a: a.network)
            )
            states.append(
                ServiceState(
                    service=name,
                    container=naming.netns_name(project, name),
                    id=str(pid) if pid else None,
                    state=state,
                    health=health,
                    addresses=addresses,
                    pid=pid,
                    netns=netns_path if state in ("running", "paused") else None,
                    image=None,
                    ports=tuple(ports),
                )
            )
        return states

    def networks(self, project: str) -> list[NetworkState]:
        topology = self._topology(project)
        return [
            NetworkState(
                name=net.name,
                backend_name=net.bridge,
                id=None,
                driver="bridge",
                subnets=(str(net.subnet),),
                internal=net.internal,
                external=False,
                services=tuple(a.service for a in topology.on_network(net.name)),
            )
            for net in topology.networks
        ]

    def logs(
        self, project: str, service: str, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[bytes]:
        """The service's output (stdout and stderr, as written), from its log file.

        With `follow`, keeps yielding until the service is no longer running.
        """
        self._config(project, service)
        return self._follow(project, service, follow, tail)

    def _follow(
        self, project: str, service: str, follow: bool, tail: int | None
    ) -> Iterator[bytes]:
        path = self.paths(project).log(service)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below, across yields
        except FileNotFoundError:
            if not follow:
                return
            handle = None
        try:
            if handle is not None:
                data = handle.read()
                if tail is not None:
                    lines = data.splitlines(keepends=True)
                    data = b"".join(lines[-tail:]) if tail > 0 else b""
                if data:
                    yield data
            while follow:
                if handle is None:
                    with contextlib.suppress(FileNotFoundError):
                        handle = open(path, "rb")  # noqa: SIM115
                chunk = handle.read() if handle is not None else b""
                if chunk:
                    yield chunk
                    continue
                if not self._running(project, service):
                    return
                time.sleep(0.1)
        finally:
            if handle is not None:
                handle.close()

    def _running(self, project: str, service: str) -> bool:
        report = self._report(self.paths(project), project)
        seen = report.services.get(service) if report else None
        return seen is not None and seen.state in ACTIVE

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
        signum = _signal_number(signal) if action is Action.KILL else None
        changed = dict(config.services)
        for name in services:
            cfg = changed[name]
            seen = report.services.get(name) if report else None
            active = seen is not None and seen.state in ACTIVE
            if action is Action.START:
                cfg = replace(cfg, desired="running", generation=cfg.generation + (not active))
            elif action is Action.STOP:
                cfg = replace(cfg, desired="stopped")
            elif action is Action.RESTART:
                cfg = replace(cfg, desired="running", generation=cfg.generation + 1)
            elif action is Action.KILL:
                assert signum is not None
                nonce = (cfg.kill[0] if cfg.kill else 0) + 1
                cfg = replace(cfg, kill=(nonce, signum))
                if signum == _SIGKILL:
                    cfg = replace(cfg, desired="stopped")
            elif action is Action.PAUSE:
                if not active:
                    raise BackendError(f"service {name!r} is not running", service=name)
                cfg = replace(cfg, desired="paused")
            elif action is Action.UNPAUSE:
                cfg = replace(cfg, desired="running")
            changed[name] = cfg
        config = replace(config, services=changed)
        report = apply_config(paths, config)

        def settled(report: SupervisorReport) -> bool:
            for name in services:
                seen = report.services.get(name)
                cfg = changed[name]
                if seen is None:
                    return False
                if cfg.desired == "stopped":
                    if seen.pid is not None or seen.state in ACTIVE:
                        return False
                elif action is Action.KILL:
                    continue
                elif cfg.desired == "paused":
                    if seen.state != "paused":
                        return False
                elif seen.generation < cfg.generation or seen.state in ("waiting", "paused"):
                    return False
            return True

        wait_report(paths, project, report.pid, settled, self.stop_timeout + 10.0)

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
        paths = self.paths(project)
        config = SupervisorConfig.read(paths.config)
        if config is None:
            return
        for name, cfg in config.services.items():
            extras = extras_from_json(cfg.hosts_extras)
            _write_in_place(paths.hosts(name), hosts_file(name, topology, extras))

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


_SIGKILL = 9


def _signal_number(name: str | None) -> int:
    if name is None:
        return _SIGKILL
    text = name.upper()
    if text.isdigit():
        return int(text)
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return int(getattr(signal.Signals, text))
    except AttributeError:
        raise BackendError(f"unknown signal {name!r}") from None


def _owner(project: str, name: str, netns_path: str | None) -> str:
    if netns_path:
        owner = naming.service_of_netns(project, os.path.basename(netns_path))
        if owner:
            return owner
    return name


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write_in_place(path: Path, text: str) -> None:
    """Rewrite a file bound into namespaces: same inode, or the binds would keep the old."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "r+") as handle:
            if handle.read() == text:
                return
            handle.seek(0)
            handle.write(text)
            handle.truncate()
    except FileNotFoundError:
        path.write_text(text)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise BackendError(f"cannot write {path}: {exc.strerror}") from exc


def _log_hint(paths: naming.StatePaths, service: str, state: str) -> str:
    return f" (see {paths.log(service)})" if state != "running" else ""


__all__ = ["NetnsBackend"]
