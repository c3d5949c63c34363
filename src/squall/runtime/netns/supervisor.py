"""The supervisor of one netns cluster: `python -m squall.runtime.netns.supervisor`.

One detached process per cluster (its own session, so it outlives the command that
started it) that is the parent of every service process. It

- starts services in `depends_on` order (service_started / service_healthy /
  service_completed_successfully), after Blockade's `start_delay`;
- runs healthchecks inside each service's namespaces, as Docker does (first probe one
  `interval` after start, `retries` failures make it unhealthy, `start_period` grace);
- applies restart policies (`always`, `unless-stopped`, `on-failure[:N]`) with Docker's
  doubling back-off (100 ms up to 10 s; reset after 10 s of running);
- stops (SIGTERM to the process group, SIGKILL after `stop_timeout`), pauses (SIGSTOP to
  the group) and signals services when the CLI asks;
- forwards `ports:` from the host into the service's namespace (see `ports`, `udp`),
  with no kernel rules, so nothing to leave behind.

It reads `supervisor.json` at start and on SIGHUP and writes `supervisor.status.json`
after every change. On SIGTERM it stops every service and exits. Processes of a
previous supervisor that died (kill -9) are killed when a new one starts: a service
is only ever run by the supervisor that can see it exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from squall.atomic import write_atomic
from squall.errors import BackendError
from squall.linux.procs import netns_inode, pids_in, signal_all
from squall.runtime.netns import naming
from squall.runtime.netns.config import (
    ServiceConfig,
    ServiceReport,
    SupervisorConfig,
    SupervisorReport,
)
from squall.runtime.netns.ports import Forwarder, close_ports, open_ports
from squall.runtime.netns.spawn import mount_template, spawn

BACKOFF_FIRST = 0.1
BACKOFF_MAX = 10.0
BACKOFF_RESET_AFTER = 10.0
TICK = 1.0
REPORT_EVERY = 0.5
"""While a pass starts many services, a report at least this often (seconds)."""


def _log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} {message}", file=sys.stderr, flush=True)


def _killpg(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def restarts(policy: str, code: int, restarted: int) -> bool:
    """Whether a process that exited with `code` is started again under `policy`."""
    name, _, limit = policy.partition(":")
    if name in ("always", "unless-stopped"):
        return True
    if name == "on-failure":
        return code != 0 and (not limit or restarted < int(limit))
    return False


@dataclass
class Unit:
    """One service as the supervisor runs it."""

    cfg: ServiceConfig
    state: str = "created"
    proc: subprocess.Popen[bytes] | None = None
    exit_code: int | None = None
    health: str | None = None
    failures: int = 0
    restarts: int = 0
    backoff: int = 0
    generation: int = 0
    digest: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    stopping: bool = False
    kill_nonce: int = 0
    delayed: bool = False
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    probe: subprocess.Popen[bytes] | None = None
    forwarders: list[Forwarder] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return self.proc is not None

    def cancel(self, *names: str) -> None:
        for name in names or tuple(self.timers):
            timer = self.timers.pop(name, None)
            if timer is not None:
                timer.cancel()

    def report(self) -> ServiceReport:
        return ServiceReport(
            name=self.cfg.name,
            state=self.state,
            pid=self.proc.pid if self.proc else None,
            exit_code=self.exit_code,
            health=self.health,
            restarts=self.restarts,
            generation=self.generation,
            started_at=self.started_at,
            finished_at=self.finished_at,
            error=self.error,
            ports=tuple(f.shown for f in self.forwarders),
        )


class Supervisor:
    def __init__(self, project: str, paths: naming.StatePaths, *, idle: bool = False) -> None:
        self.project = project
        self.paths = paths
        self.idle = idle
        self.config = SupervisorConfig(project)
        self.units: dict[str, Unit] = {}
        self.serial = 0
        self.stopping = False
        self._dirty = False
        self._first = True
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Event | None = None
        self._template: int | None = None
        """The mount namespace services unshare from (`spawn.mount_template`)."""
        self._reported = 0.0
        """When the last report was written (monotonic)."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        handlers = {
            signal.SIGHUP: self.reload,
            signal.SIGTERM: self.shutdown,
            signal.SIGINT: self.shutdown,
            signal.SIGCHLD: self.reap,
        }
        for signum, handler in handlers.items():
            self.loop.add_signal_handler(signum, handler)
        try:
            self._template = mount_template()
        except OSError as exc:  # services still start, each copying the host's mounts
            _log(f"no mount namespace template ({exc}); starting services is slower")
        # Only now may the CLI find us (and send SIGHUP, which would kill us before).
        write_atomic(self.paths.pidfile, str(os.getpid()))
        if not self.idle:
            self.reload()
        self.loop.call_later(TICK, self._tick)
        await self._done.wait()

    def _tick(self) -> None:
        self.reap()
        if not self.stopping or any(u.alive for u in self.units.values()):
            self.loop.call_later(TICK, self._tick)

    # config -----------------------------------------------------------------------

    def reload(self) -> None:
        config = SupervisorConfig.read(self.paths.config)
        if config is None:
            _log(f"cannot read {self.paths.config}; keeping the previous config")
            return
        if self._first:
            self._first = False
            self._kill_orphans(config)
        self.config = config
        for name, cfg in config.services.items():
            unit = self.units.get(name)
            if unit is None:
                unit = self.units[name] = Unit(cfg)
                if cfg.kill is not None:
                    unit.kill_nonce = cfg.kill[0]  # a kill sent before this supervisor
            unit.cfg = cfg
            if cfg.kill is not None and cfg.kill[0] > unit.kill_nonce:
                unit.kill_nonce = cfg.kill[0]
                if unit.proc is not None:
                    _log(f"{name}: signal {cfg.kill[1]}")
                    _killpg(unit.proc.pid, cfg.kill[1])
        for name in sorted(set(self.units) - set(config.services)):
            unit = self.units[name]
            if unit.alive:
                self.stop(unit)
            else:
                del self.units[name]
        self.serial = config.serial
        # Answer first: starting a thousand services takes seconds, and the CLI waits
        # for them through the reports written while they start (`start`).
        self._write_report()
        self.reconcile()

    def _kill_orphans(self, config: SupervisorConfig) -> None:
        """Processes left in the cluster's namespaces by a supervisor that died."""
        inodes = {
            ino: s.name
            for s in config.services.values()
            if s.launch.netns and (ino := netns_inode(s.launch.netns)) is not None
        }
        if not inodes:
            return
        found = [pid for pids in pids_in(inodes).values() for pid in pids]
        if found:
            _log(f"killing {len(found)} process(es) a previous supervisor left running")
            signal_all(found, signal.SIGKILL)

    # the state machine --------------------------------------------------------------

    def reconcile(self) -> None:
        # Again while a pass starts something: a service may wait for one sorted after it.
        for _ in range(len(self.units) + 1):
            started = sum(u.started_at or 0 for u in self.units.values())
            for name in sorted(self.units):
                unit = self.units.get(name)
                if unit is not None:
                    self._reconcile(unit)
            if sum(u.started_at or 0 for u in self.units.values()) == started:
                break
        self.mark_dirty()
        if self.stopping and not any(u.alive for u in self.units.values()):
            self.finish()

    def _reconcile(self, unit: Unit) -> None:
        cfg = unit.cfg
        gone = self.stopping or cfg.name not in self.config.services
        desired = "stopped" if gone else cfg.desired
        if unit.proc is not None:
            if (
                desired == "stopped"
                or cfg.generation > unit.generation
                or cfg.digest() != unit.digest
            ):
                self.stop(unit)
            elif desired == "paused" and unit.state == "running":
                _killpg(unit.proc.pid, signal.SIGSTOP)
                unit.state = "paused"
            elif desired == "running" and unit.state == "paused":
                _killpg(unit.proc.pid, signal.SIGCONT)
                unit.state = "running"
            return
        if desired == "stopped":
            unit.cancel("restart", "delay")
            if unit.state in ("waiting", "restarting", "blocked"):
                unit.state = "exited" if unit.started_at else "created"
            return
        if "restart" in unit.timers or "delay" in unit.timers:
            return
        if unit.generation >= cfg.generation:
            return  # it ran at this generation and ended; only a new one starts it again
        verdict, reason = self._dependencies(unit)
        unit.error = reason
        if verdict != "ok":
            unit.state = "waiting" if verdict == "wait" else "blocked"
            return
        if cfg.start_delay > 0 and not unit.delayed:
            unit.state = "waiting"
            unit.error = f"start_delay {cfg.start_delay:g}s"
            unit.timers["delay"] = self.loop.call_later(cfg.start_delay, self._delayed, unit)
            return
        self.start(unit)

    def _delayed(self, unit: Unit) -> None:
        unit.timers.pop("delay", None)
        unit.delayed = True
        self.reconcile()

    def _dependencies(self, unit: Unit) -> tuple[str, str | None]:
        """("ok" | "wait" | "fail", why not ok)."""
        for name, condition in unit.cfg.depends_on:
            dep = self.units.get(name)
            if dep is None:
                return "fail", f"depends on {name!r}, which is not in the cluster"
            verdict = _CONDITIONS.get(condition, _started)(name, dep)
            if verdict[0] != "ok":
                return verdict
        return "ok", None

    def start(self, unit: Unit) -> None:
        cfg = unit.cfg
        unit.cancel()
        log_path = self.paths.log(cfg.name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        unit.generation = cfg.generation
        unit.digest = cfg.digest()
        unit.error = None
        unit.stopping = False
        with open(log_path, "ab") as log_file:
            try:
                unit.proc = spawn(
                    cfg.launch, stdout=log_file, stderr=log_file, template=self._template
                )
            except BackendError as exc:
                log_file.write(f"squall: {exc}\n".encode())
                unit.state, unit.exit_code, unit.error = "exited", 127, str(exc)
                unit.started_at = unit.finished_at = time.time()
                _log(f"{cfg.name}: {exc}")
                return
        unit.state = "running"
        unit.started_at = time.time()
        unit.exit_code = None
        unit.finished_at = None
        unit.failures = 0
        unit.health = "starting" if cfg.healthcheck else None
        if time.monotonic() - self._reported > REPORT_EVERY:
            self._write_report()  # a long pass of starts still shows its progress
        self._open_ports(unit)
        if cfg.healthcheck is not None:
            unit.timers["probe"] = self.loop.call_later(cfg.healthcheck.interval, self._probe, unit)
        if cfg.desired == "paused":
            _killpg(unit.proc.pid, signal.SIGSTOP)
            unit.state = "paused"

    def stop(self, unit: Unit) -> None:
        if unit.proc is None or unit.stopping:
            return
        unit.stopping = True
        pid = unit.proc.pid
        _killpg(pid, signal.SIGTERM)
        if unit.state == "paused":
            _killpg(pid, signal.SIGCONT)
        unit.timers["kill"] = self.loop.call_later(
            self.config.stop_timeout, _killpg, pid, signal.SIGKILL
        )

    def reap(self) -> None:
        changed = False
        for unit in list(self.units.values()):
            if unit.probe is not None and (code := unit.probe.poll()) is not None:
                self._probe_done(unit, code)
                changed = True
            if unit.proc is not None and (code := unit.proc.poll()) is not None:
                self._exited(unit, code)
                changed = True
        if changed:
            self.reconcile()

    def _exited(self, unit: Unit, returncode: int) -> None:
        assert unit.proc is not None
        pid = unit.proc.pid
        _killpg(pid, signal.SIGKILL)  # what the leader left behind in its group
        code = returncode if returncode >= 0 else 128 - returncode
        ran = time.time() - (unit.started_at or time.time())
        unit.proc = None
        unit.cancel("kill", "probe", "probe-timeout")
        self._kill_probe(unit)
        self._close_ports(unit)
        unit.exit_code, unit.finished_at, unit.health = code, time.time(), None
        was_stopping, unit.stopping = unit.stopping, False
        desired = unit.cfg.desired if not self.stopping else "stopped"
        if unit.cfg.name not in self.config.services:
            del self.units[unit.cfg.name]
            return
        _log(f"{unit.cfg.name}: pid {pid} exited with code {code}")
        if ran >= BACKOFF_RESET_AFTER:
            unit.backoff = 0
        if (
            not was_stopping
            and desired != "stopped"
            and restarts(unit.cfg.restart, code, unit.restarts)
        ):
            delay = min(BACKOFF_FIRST * (2**unit.backoff), BACKOFF_MAX)
            unit.backoff += 1
            unit.state = "restarting"
            unit.timers["restart"] = self.loop.call_later(delay, self._restart, unit)
        else:
            unit.state = "exited"

    def _restart(self, unit: Unit) -> None:
        unit.timers.pop("restart", None)
        if unit.proc is None and not self.stopping and unit.cfg.desired != "stopped":
            unit.restarts += 1
            self.start(unit)
        self.reconcile()

    # healthchecks ---------------------------------------------------------------------

    def _probe(self, unit: Unit) -> None:
        unit.timers.pop("probe", None)
        check = unit.cfg.healthcheck
        if check is None or unit.proc is None:
            return
        if unit.state == "paused" or unit.probe is not None:
            unit.timers["probe"] = self.loop.call_later(check.interval, self._probe, unit)
            return
        out = self.paths.log(unit.cfg.name).with_suffix(".health.log")
        with open(out, "wb") as probe_log:
            try:
                unit.probe = spawn(
                    unit.cfg.launch.with_argv(check.test),
                    stdout=probe_log,
                    stderr=subprocess.STDOUT,
                    template=self._template,
                )
            except BackendError as exc:
                probe_log.write(f"squall: {exc}\n".encode())
                self._probe_done(unit, 127)
                return
        unit.timers["probe-timeout"] = self.loop.call_later(check.timeout, self._kill_probe, unit)

    def _kill_probe(self, unit: Unit) -> None:
        if unit.probe is not None:
            _killpg(unit.probe.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                unit.probe.wait(1.0)
            unit.probe = None

    def _probe_done(self, unit: Unit, code: int) -> None:
        unit.probe = None
        unit.cancel("probe-timeout")
        check = unit.cfg.healthcheck
        if check is None or unit.proc is None:
            return
        if code == 0:
            unit.health, unit.failures = "healthy", 0
        elif time.time() - (unit.started_at or 0) >= check.start_period:
            unit.failures += 1
            if unit.failures >= check.retries:
                unit.health = "unhealthy"
        unit.timers["probe"] = self.loop.call_later(check.interval, self._probe, unit)

    # ports ----------------------------------------------------------------------------

    def _open_ports(self, unit: Unit) -> None:
        unit.forwarders, errors = open_ports(self.loop, unit.cfg)
        for error in errors:
            unit.error = error
            _log(f"{unit.cfg.name}: {error}")

    def _close_ports(self, unit: Unit) -> None:
        close_ports(unit.forwarders)
        unit.forwarders.clear()

    # reports and the end ----------------------------------------------------------------

    def mark_dirty(self) -> None:
        if not self._dirty:
            self._dirty = True
            self.loop.call_soon(self._write_report)

    def _write_report(self) -> None:
        self._dirty = False
        self._reported = time.monotonic()
        report = SupervisorReport(
            pid=os.getpid(),
            serial=self.serial,
            services={name: unit.report() for name, unit in sorted(self.units.items())},
            stopping=self.stopping,
        )
        with contextlib.suppress(OSError):  # the state directory may be gone (down)
            write_atomic(self.paths.status, json.dumps(report.to_json()))

    def shutdown(self) -> None:
        if self.stopping:
            return
        _log("stopping every service")
        self.stopping = True
        self.loop.call_later(self.config.stop_timeout + 2.0, self._force)
        self.reconcile()

    def _force(self) -> None:
        for unit in self.units.values():
            if unit.proc is not None:
                _killpg(unit.proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    unit.proc.wait(1.0)
        self.reap()
        self.finish()

    def finish(self) -> None:
        for unit in self.units.values():
            unit.cancel()
            self._kill_probe(unit)
            self._close_ports(unit)
        self._write_report()
        if self._template is not None:
            os.close(self._template)
            self._template = None
        with contextlib.suppress(OSError):
            if self.paths.pidfile.read_text().strip() == str(os.getpid()):
                self.paths.pidfile.unlink()
        if self._done is not None:
            self._done.set()


Verdict = tuple[str, str | None]


def _healthy(name: str, dep: Unit) -> Verdict:
    if dep.cfg.healthcheck is None:
        return "fail", f"{name!r} has no healthcheck, so nothing can wait for it to be healthy"
    if dep.alive and dep.health == "healthy":
        return "ok", None
    if dep.health == "unhealthy":
        return "fail", f"{name!r} is unhealthy"
    if not dep.alive and dep.state == "exited":
        return "fail", f"{name!r} exited ({dep.exit_code}) before it was healthy"
    return "wait", f"waiting for {name} to be healthy"


def _completed(name: str, dep: Unit) -> Verdict:
    if dep.state == "exited" and dep.generation >= dep.cfg.generation:
        if dep.exit_code == 0:
            return "ok", None
        return "fail", f"{name!r} did not complete successfully (exit {dep.exit_code})"
    return "wait", f"waiting for {name} to complete"


def _started(name: str, dep: Unit) -> Verdict:
    if dep.started_at is None or dep.state in ("blocked", "waiting", "created"):
        if dep.state == "blocked":
            return "fail", f"{name!r} could not start"
        return "wait", f"waiting for {name} to start"
    return "ok", None


_CONDITIONS: dict[str, Callable[[str, Unit], Verdict]] = {
    "service_healthy": _healthy,
    "service_completed_successfully": _completed,
    "service_started": _started,
}
"""What each `depends_on` condition asks of the dependency (default: started)."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {naming.SUPERVISOR_MODULE}")
    parser.add_argument("--project", required=True)
    parser.add_argument("--state", type=Path, required=True, help="the netns state folder")
    parser.add_argument("--idle", action="store_true", help="wait for SIGHUP to read the config")
    args = parser.parse_args(argv)
    paths = naming.StatePaths(args.state)
    _log(f"supervisor of {args.project!r} started (pid {os.getpid()})")
    asyncio.run(Supervisor(args.project, paths, idle=args.idle).run())
    _log("supervisor exits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
