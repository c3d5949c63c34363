"""What the CLI tells a cluster's supervisor, what it reports back, and how to reach it.

The supervisor is a detached process (its own session, like the shaper), one per
cluster, found in the state directory (`netns/supervisor.pid`, verified against its
command line) or, when that directory is lost, by scanning /proc for its argv. The
CLI writes `supervisor.json` atomically and sends SIGHUP; the supervisor answers in
`supervisor.status.json` (atomically too), stamped with the config's `serial`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import squall.detach as detach
from squall.atomic import write_atomic
from squall.errors import BackendError
from squall.runtime.netns import naming
from squall.runtime.netns.spawn import Launch

# A Python start on an emulated CPU (the VM lane's TCG guest, a busy host) took over 10 s
START_TIMEOUT = 30.0
_POLL = 0.005


@dataclass(frozen=True)
class HealthConfig:
    test: tuple[str, ...]
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0


@dataclass(frozen=True)
class PortForward:
    """`ports:` entry: listen on the host at `host_ip:published`, forward to `target`."""

    target: int
    published: int | None = None
    host_ip: str = "127.0.0.1"
    target_ip: str | None = None
    """Address the forwarder connects to inside the namespace (default 127.0.0.1)."""
    protocol: str = "tcp"
    """tcp | udp"""


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    launch: Launch
    restart: str = "no"
    healthcheck: HealthConfig | None = None
    depends_on: tuple[tuple[str, str], ...] = ()
    """(service, condition) pairs."""
    start_delay: float = 0.0
    ports: tuple[PortForward, ...] = ()
    desired: str = "running"
    """running | stopped | paused"""
    generation: int = 1
    """Bumped to ask for a (re)start: the supervisor starts what runs an older one."""
    kill: tuple[int, int] | None = None
    """(nonce, signal number): send once, when the nonce is new."""
    hosts_extras: Mapping[str, Any] = field(default_factory=dict)
    """What `hosts_file` needs besides the topology (links, extra_hosts, hostname)."""

    def digest(self) -> str:
        """What makes the running process what it is: a change restarts it."""
        document = {
            "launch": self.launch.to_json(),
            "healthcheck": self.healthcheck.__dict__ if self.healthcheck else None,
            "ports": [p.__dict__ for p in self.ports],
        }
        text = json.dumps(document, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "launch": self.launch.to_json(),
            "restart": self.restart,
            "healthcheck": self.healthcheck.__dict__ | {"test": list(self.healthcheck.test)}
            if self.healthcheck
            else None,
            "depends_on": [list(d) for d in self.depends_on],
            "start_delay": self.start_delay,
            "ports": [p.__dict__ for p in self.ports],
            "desired": self.desired,
            "generation": self.generation,
            "kill": list(self.kill) if self.kill else None,
            "hosts_extras": dict(self.hosts_extras),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServiceConfig:
        check = data.get("healthcheck")
        kill = data.get("kill")
        return cls(
            name=str(data["name"]),
            launch=Launch.from_json(data["launch"]),
            restart=str(data.get("restart") or "no"),
            healthcheck=HealthConfig(
                test=tuple(check["test"]),
                interval=float(check["interval"]),
                timeout=float(check["timeout"]),
                retries=int(check["retries"]),
                start_period=float(check["start_period"]),
            )
            if check
            else None,
            depends_on=tuple((str(d[0]), str(d[1])) for d in data.get("depends_on") or ()),
            start_delay=float(data.get("start_delay") or 0.0),
            ports=tuple(PortForward(**p) for p in data.get("ports") or ()),
            desired=str(data.get("desired") or "running"),
            generation=int(data.get("generation") or 1),
            kill=(int(kill[0]), int(kill[1])) if kill else None,
            hosts_extras=dict(data.get("hosts_extras") or {}),
        )


@dataclass(frozen=True)
class SupervisorConfig:
    project: str
    serial: int = 0
    stop_timeout: float = 10.0
    services: Mapping[str, ServiceConfig] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "serial": self.serial,
            "stop_timeout": self.stop_timeout,
            "services": {name: s.to_json() for name, s in sorted(self.services.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SupervisorConfig:
        return cls(
            project=str(data["project"]),
            serial=int(data.get("serial") or 0),
            stop_timeout=float(data.get("stop_timeout") or 10.0),
            services={
                str(name): ServiceConfig.from_json(s)
                for name, s in dict(data.get("services") or {}).items()
            },
        )

    @classmethod
    def read(cls, path: Path) -> SupervisorConfig | None:
        try:
            return cls.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(self.to_json(), indent=1))

    def with_service(self, service: ServiceConfig) -> SupervisorConfig:
        return replace(self, services={**self.services, service.name: service})


@dataclass(frozen=True)
class ServiceReport:
    """One service as the supervisor sees it."""

    name: str
    state: str
    """created | waiting | running | paused | restarting | exited | blocked"""
    pid: int | None = None
    exit_code: int | None = None
    health: str | None = None
    restarts: int = 0
    generation: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    ports: tuple[str, ...] = ()
    """`HOST_IP:PORT->TARGET/tcp` for each forwarder listening."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServiceReport:
        return cls(
            name=str(data["name"]),
            state=str(data["state"]),
            pid=data.get("pid"),
            exit_code=data.get("exit_code"),
            health=data.get("health"),
            restarts=int(data.get("restarts") or 0),
            generation=int(data.get("generation") or 0),
            started_at=data.get("started_at"),
            finished_at=data.get("finished_at"),
            error=data.get("error"),
            ports=tuple(data.get("ports") or ()),
        )


@dataclass(frozen=True)
class SupervisorReport:
    pid: int
    serial: int
    services: Mapping[str, ServiceReport]
    stopping: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "serial": self.serial,
            "stopping": self.stopping,
            "services": {
                n: s.__dict__ | {"ports": list(s.ports)} for n, s in self.services.items()
            },
        }

    @classmethod
    def read(cls, path: Path) -> SupervisorReport | None:
        try:
            data = json.loads(path.read_text())
            return cls(
                pid=int(data["pid"]),
                serial=int(data["serial"]),
                services={str(n): ServiceReport.from_json(s) for n, s in data["services"].items()},
                stopping=bool(data.get("stopping")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


# Finding the supervisor ---------------------------------------------------------------


def _marker(project: str) -> detach.Marker:
    return detach.Marker(naming.SUPERVISOR_MODULE, "--project", project)


def is_supervisor(pid: int, project: str) -> bool:
    """Whether `pid` is the live supervisor of `project` (by its argv)."""
    return detach.is_ours(pid, _marker(project))


def running_supervisor(paths: naming.StatePaths, project: str) -> int | None:
    return detach.running(paths.pidfile, _marker(project))


def find_supervisors(project: str) -> list[int]:
    """Every live supervisor of `project`, found from /proc alone (state dir lost)."""
    return detach.find(_marker(project))


def start_supervisor(paths: naming.StatePaths, project: str, *, idle: bool = False) -> int:
    """Start a detached supervisor reading `paths.config` (with `idle`, only once told
    to by `apply_config`, so it can start while the network is still being made); its pid.

    Raises:
        BackendError: the process cannot be started.
    """
    argv = [
        sys.executable,
        "-m",
        naming.SUPERVISOR_MODULE,
        "--project",
        project,
        "--state",
        str(paths.root),
        *(["--idle"] if idle else []),
    ]
    paths.root.mkdir(parents=True, exist_ok=True)
    try:
        child = detach.start_detached(argv, paths.supervisor_log, cwd="/")
    except OSError as exc:
        raise BackendError(f"cannot start the netns supervisor: {exc}") from exc
    return child.pid


def apply_config(
    paths: naming.StatePaths,
    config: SupervisorConfig,
    *,
    started: int | None = None,
    timeout: float = START_TIMEOUT,
) -> SupervisorReport:
    """Write `config` (with a new serial) and make the supervisor apply it.

    `started` is an idle supervisor started earlier (`start_supervisor(idle=True)`);
    otherwise one is started when none runs. Returns its first report on this config.

    Raises:
        BackendError: the supervisor died or did not answer within `timeout`.
    """
    previous = SupervisorConfig.read(paths.config)
    serial = max(config.serial, previous.serial if previous else 0) + 1
    config = replace(config, serial=serial)
    config.write(paths.config)
    pid = running_supervisor(paths, config.project)
    if started is not None and pid != started:
        deadline = time.monotonic() + timeout
        while (pid := running_supervisor(paths, config.project)) != started:
            if not is_supervisor(started, config.project) or time.monotonic() > deadline:
                raise BackendError(
                    f"the netns supervisor of {config.project!r} (pid {started}) did not "
                    "start" + detach.log_tail(paths.supervisor_log)
                )
            time.sleep(_POLL)
    if pid is None:
        pid = start_supervisor(paths, config.project)
    else:
        os.kill(pid, signal.SIGHUP)
    return wait_report(paths, config.project, pid, lambda r: r.serial >= serial, timeout)


def wait_report(
    paths: naming.StatePaths,
    project: str,
    pid: int,
    done: Callable[[SupervisorReport], bool],
    timeout: float,
    *,
    on_report: Callable[[SupervisorReport], None] | None = None,
) -> SupervisorReport:
    """Poll the supervisor's report until `done` says yes.

    Raises:
        BackendError: the supervisor is gone, or `timeout` passed.
    """
    deadline = time.monotonic() + timeout
    last_mtime = -1
    report: SupervisorReport | None = None
    checked_alive = time.monotonic()
    while True:
        with contextlib.suppress(OSError):
            mtime = paths.status.stat().st_mtime_ns
            if mtime != last_mtime:
                last_mtime = mtime
                fresh = SupervisorReport.read(paths.status)
                if fresh is not None and fresh.pid == pid:
                    report = fresh
                    if on_report is not None:
                        on_report(report)
                    if done(report):
                        return report
        now = time.monotonic()
        if now - checked_alive > 0.2:
            checked_alive = now
            if not is_supervisor(pid, project):
                raise BackendError(
                    f"the netns supervisor of {project!r} (pid {pid}) exited"
                    + detach.log_tail(paths.supervisor_log)
                )
        if now > deadline:
            raise BackendError(
                f"the netns supervisor of {project!r} (pid {pid}) did not answer within "
                f"{timeout:g}s" + detach.log_tail(paths.supervisor_log)
            )
        time.sleep(_POLL)


def stop_supervisor(pid: int, timeout: float) -> None:
    """SIGTERM (it stops every service), then SIGKILL if it outlives `timeout`."""
    detach.stop(pid, timeout)


__all__ = [
    "HealthConfig",
    "PortForward",
    "ServiceConfig",
    "ServiceReport",
    "SupervisorConfig",
    "SupervisorReport",
    "apply_config",
    "find_supervisors",
    "running_supervisor",
    "stop_supervisor",
    "wait_report",
]
