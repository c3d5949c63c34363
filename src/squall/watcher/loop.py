"""The watcher's loop: follow the backend's changes, repair, report, know when to leave.

A thread follows `Backend.watch` (it blocks between changes) and hands each change to
the main thread through a queue; when the stream breaks (the engine restarts) it
resumes from the last change it saw, after a short back-off, and asks for a full
check, since anything may have happened meanwhile. The main thread repairs through
the session (lock, kernel, event log) and, between changes, checks every `TICK`
seconds that it is still wanted: its pidfile names it, its state directory exists,
its cluster still has services.
"""

from __future__ import annotations

import datetime
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from squall.errors import ClusterBusy, SquallError
from squall.linux.procs import read_pid
from squall.runtime.base import Backend, ServiceChange
from squall.session import Session
from squall.watcher import PID_FILE, REPORT_FILE, WatcherReport

TICK = 2.0
"""Seconds between checks that the watcher is still wanted, when nothing happens."""
BACKOFF = (0.1, 0.2, 0.5, 1.0, 2.0)
"""Waits before following the backend again after its stream broke, then 2 s each."""
BUSY_RETRY = 0.2
"""A repair that found the cluster's lock held tries again this much later."""


@dataclass(frozen=True)
class Resync:
    """Check everything: the watcher started, or the stream broke and resumed."""

    why: str


@dataclass(frozen=True)
class Broken:
    """The backend's stream broke (the engine is away); the thread is retrying."""

    error: str


Item = ServiceChange | Resync | Broken


@dataclass
class Watcher:
    """One cluster's watcher. Constructing it does nothing; `run` runs until unwanted."""

    session: Session
    since: float
    follow: Backend | None = None
    """The backend whose changes the thread follows (default: the session's); a client
    of its own keeps the stream apart from the repairs' calls."""
    clock: Callable[[], float] = time.time
    items: queue.Queue[Item] = field(default_factory=queue.Queue)
    report: WatcherReport = field(init=False)

    def __post_init__(self) -> None:
        self.report = WatcherReport(pid=os.getpid(), since=self.since)

    @property
    def state_dir(self) -> Path:
        return self.session.state.path

    def run(self) -> None:
        """Repair once, then on every change, until the watcher is no longer wanted."""
        follower = threading.Thread(target=self._follow, name="watch", daemon=True)
        follower.start()
        self.items.put(Resync("the watcher started"))
        # Should the follower ever die, leave: the next command starts a whole watcher.
        while follower.is_alive() and self.wanted():
            try:
                item = self.items.get(timeout=TICK)
            except queue.Empty:
                continue
            self.handle(item)

    def handle(self, item: Item) -> None:
        if isinstance(item, Broken):
            self._write(replace(self.report, watching=False, error=item.error))
            return
        cause = item.why if isinstance(item, Resync) else f"{item.service} {item.what}"
        started = time.monotonic()
        try:
            repaired = self.session.repair_faults(cause)
        except ClusterBusy:
            threading.Timer(BUSY_RETRY, self.items.put, (Resync(cause),)).start()
            return
        except SquallError as exc:
            self._write(replace(self.report, error=f"repairing after {cause}: {exc}"))
            return
        report = replace(self.report, watching=True, error=None)
        if repaired:
            took = time.monotonic() - started
            at = datetime.datetime.fromtimestamp(self.clock()).strftime("%H:%M:%S")
            report = replace(
                report,
                repairs=report.repairs + 1,
                last_repair=f"{','.join(repaired)} ({cause}) in {took:.2f}s at {at}",
            )
        self._write(report)

    def wanted(self) -> bool:
        """Still this cluster's watcher, and the cluster is still there."""
        if read_pid(self.state_dir / PID_FILE) != os.getpid() or not self.state_dir.exists():
            return False
        try:
            return bool(self.session.backend.status(self.session.project))
        except SquallError:
            return True  # the engine is away: keep waiting for it to come back

    def _follow(self) -> None:
        """The thread: follow the backend's changes for ever, resuming after breaks."""
        since, failures = self.since, 0
        backend, project = self.follow or self.session.backend, self.session.project
        while True:
            if failures:
                # What happened while away is replayed from `since`; check the rest.
                self.items.put(Resync("following the backend again"))
            try:
                for change in backend.watch(project, since):
                    failures = 0
                    since = max(since, change.at)
                    self.items.put(change)
            except SquallError as exc:
                self.items.put(Broken(str(exc)))
            time.sleep(BACKOFF[min(failures, len(BACKOFF) - 1)])
            failures += 1

    def _write(self, report: WatcherReport) -> None:
        self.report = report
        if self.state_dir.exists():
            self.report.write(self.state_dir / REPORT_FILE)


__all__ = ["BACKOFF", "TICK", "Watcher"]
