"""The watcher's loop against an in-memory backend: what it repairs on, how it resumes
after the engine went away, when it leaves. (Proof on a real engine:
tests/integration/cluster_faults/test_restarts.py.)"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from squall.errors import ClusterBusy, EngineUnavailable, FaultError
from squall.runtime.base import ServiceChange
from squall.session import ClusterRef, Session
from squall.spec.loader import load_cluster
from squall.watcher import PID_FILE, REPORT_FILE, WatcherReport
from squall.watcher.loop import Broken, Resync, Watcher
from tests.unit.fakes import FakeBackend

COMPOSE = "name: duo\nservices:\n  a: {image: x}\n  b: {image: x}\n"


@dataclass
class Engine(FakeBackend):
    """Streams: each `watch` call takes the next script (changes, then an error or a
    block until the test ends); the `since` of each call is kept."""

    scripts: list[tuple[list[ServiceChange], Exception | None]] = field(default_factory=list)
    asked: list[float | None] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    watchable = True

    def watch(self, project: str, since: float | None = None) -> Iterator[ServiceChange]:
        self.asked.append(since)
        changes, error = self.scripts.pop(0) if self.scripts else ([], None)
        yield from changes
        if error is not None:
            raise error
        self.done.wait(10)


@dataclass
class Repairs(Session):
    """Repairs what `broken` names; `fail` makes the next repair raise it."""

    broken: list[str] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)
    fail: Exception | None = None

    def repair_faults(self, cause: str = "") -> list[str]:
        self.causes.append(cause)
        if self.fail is not None:
            error, self.fail = self.fail, None
            raise error
        repaired, self.broken = self.broken, []
        return repaired


@pytest.fixture
def session(tmp_path: Path) -> Repairs:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    spec = load_cluster(tmp_path / "compose.yaml")
    base = Session.create(ClusterRef(spec.name, spec), Engine(), tmp_path / "state")
    made = Repairs(base.cluster, base.backend, base.state)
    made.backend.up(spec)
    made.state.ensure()
    return made


def report(session: Session) -> WatcherReport:
    found = WatcherReport.read(session.state.path / REPORT_FILE)
    assert found is not None
    return found


def test_a_start_is_repaired_and_reported(session: Repairs) -> None:
    watcher = Watcher(session, since=100.0)
    session.broken = ["b"]
    watcher.handle(ServiceChange("b", "start", 101.0))
    assert session.causes == ["b start"]
    written = report(session)
    assert (written.pid, written.repairs, written.watching) == (os.getpid(), 1, True)
    assert written.last_repair is not None and written.last_repair.startswith("b (b start) in ")
    watcher.handle(ServiceChange("a", "start", 102.0))  # nothing to repair: no new repair
    assert report(session).repairs == 1


def test_failures_are_reported_and_a_busy_cluster_is_tried_again(session: Repairs) -> None:
    watcher = Watcher(session, since=0.0)
    session.fail = FaultError("tc said no")
    watcher.handle(Resync("the watcher started"))
    assert report(session).error == "repairing after the watcher started: tc said no"
    session.fail = ClusterBusy("busy")
    watcher.handle(ServiceChange("b", "start", 1.0))
    assert watcher.items.get(timeout=2) == Resync("b start")
    watcher.handle(Broken("cannot reach the Docker Engine"))
    assert (report(session).watching, report(session).error) == (
        False,
        "cannot reach the Docker Engine",
    )


def test_a_broken_stream_resumes_from_the_last_change_and_checks_everything(
    session: Repairs,
) -> None:
    engine = session.backend
    assert isinstance(engine, Engine)
    first = ServiceChange("b", "start", 150.0)
    engine.scripts = [([first], EngineUnavailable("engine restarting")), ([], None)]
    watcher = Watcher(session, since=100.0)
    thread = threading.Thread(target=watcher._follow, daemon=True)
    thread.start()
    items = [watcher.items.get(timeout=5) for _ in range(3)]
    engine.done.set()
    assert items == [first, Broken("engine restarting"), Resync("following the backend again")]
    assert engine.asked == [100.0, 150.0]


def test_it_leaves_when_no_longer_wanted(session: Repairs) -> None:
    watcher = Watcher(session, since=0.0)
    pidfile = session.state.path / PID_FILE
    assert not watcher.wanted()  # the pidfile names another process
    pidfile.write_text(f"{os.getpid()}\n")
    assert watcher.wanted()
    session.backend.down("duo")
    assert not watcher.wanted()  # the cluster is gone
