"""The event log, the shared fault builders, chaos plans and replays: no root, no engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from squall import chaos, events
from squall.errors import ChaosError, ServiceNotFound, UsageError
from squall.events import Actor
from squall.faults.partition import reachable
from squall.faults.request import build_partition, build_shape
from squall.probe import percentile
from squall.session import ClusterRef, Session
from squall.spec.loader import load_cluster
from tests.unit.fakes import FakeBackend

COMPOSE = """\
name: trio
services:
  a: {image: squall/busybox}
  b: {image: squall/busybox}
  c: {image: squall/busybox}
"""


@pytest.fixture
def session(tmp_path: Path) -> Session:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    spec = load_cluster(tmp_path / "compose.yaml")
    return Session.create(
        ClusterRef(spec.name, spec), FakeBackend(), tmp_path / "state", actor=Actor("api")
    )


def test_time_is_utc_with_milliseconds() -> None:
    assert events.format_time(0.1234) == "1970-01-01T00:00:00.123Z"
    assert events.parse_time("1970-01-01T00:00:01.500Z") == 1.5


def test_every_change_is_one_line_in_order_with_who_and_result(session: Session) -> None:
    session.up()
    request = build_shape(known_services=["a", "b", "c"], delay="100ms", to=["b"])
    session.shape(["a"], request.shape, to_services=request.to_services)
    session.partition(build_partition([["a"], ["b", "c"]], services=["a", "b", "c"]))
    session.join()
    session.fast(["a"])
    with pytest.raises(ServiceNotFound):  # refused before anything changes: not logged
        session.shape(["a"], request.shape, to_services=("nope",))
    lines = (session.state.path / events.EVENTS_FILE).read_text().splitlines()
    logged = [json.loads(line) for line in lines]
    assert [e["what"] for e in logged] == ["up", "shape", "partition", "join", "fast"]
    assert {e["who"] for e in logged} == {"api"} and all(e["result"] == "ok" for e in logged)
    assert logged[1]["targets"] == ["a"] and logged[1]["values"]["to"] == ["b"]
    assert logged[1]["values"]["shape"]["delay"] == "100ms"
    assert [e["time"] for e in logged] == sorted(e["time"] for e in logged)
    assert "partition (groups): a | b,c" in events.read(session.events_path())[2].describe()


def test_a_failed_change_is_logged_with_its_error(session: Session) -> None:
    session.up()

    def broken(*args: object, **kwargs: object) -> None:
        raise ChaosError("engine said no")

    session.backend.act = broken  # type: ignore[method-assign]
    from squall.runtime.base import Action

    with pytest.raises(ChaosError):
        session.act(["a"], Action.STOP)
    last = session.events()[-1]
    assert (last.what, last.result, last.error) == ("stop", "error", "engine said no")
    assert "ERROR: engine said no" in last.describe()


def test_dry_runs_are_not_logged_and_down_keeps_the_log(session: Session) -> None:
    session.up()
    session.join(dry_run=True)
    session.down()
    assert not session.state.path.exists()
    assert [e.what for e in session.events()] == ["up", "down"]


def test_tail_reads_only_new_complete_lines(tmp_path: Path) -> None:
    tail = events.Tail.at_end(tmp_path / events.EVENTS_FILE)
    assert tail.poll() == []
    events.append(tmp_path, events.make_event(Actor("cli"), "join"))
    with open(tmp_path / events.EVENTS_FILE, "a") as f:
        f.write('{"time": "torn')
    assert [e.what for e in tail.poll()] == ["join"]
    assert tail.poll() == []


def test_shape_builder_is_shared_and_checks_values() -> None:
    request = build_shape(
        known_services=["a", "b"], delay="50ms", loss="10%", to=["b,10.0.0.0/8"], port="80"
    )
    assert request.to_services == ("b",)
    assert request.shape.selector.peers == ("10.0.0.0/8",)
    assert str(request.shape.delay) == "50ms"
    with pytest.raises(UsageError, match="--delay"):
        build_shape(known_services=[], delay="fast")
    with pytest.raises(UsageError, match="--duration"):
        build_shape(known_services=[], delay="1ms", duration="0s")


def test_same_seed_same_cluster_same_timeline() -> None:
    kw = dict(
        seed=7,
        duration=60.0,
        interval=chaos.Span(1, 3),
        hold=chaos.Span(1, 4),
        at_once=(1, 3),
    )
    one = chaos.plan_chaos(["c", "a", "b", "d"], **kw)  # type: ignore[arg-type]
    two = chaos.plan_chaos(["a", "b", "c", "d"], **kw)  # type: ignore[arg-type]
    assert one == two and len(one.rounds) > 5
    other = chaos.plan_chaos(["a", "b", "c", "d"], **{**kw, "seed": 8})  # type: ignore[arg-type]
    assert other != one
    for rnd in one.rounds:
        assert rnd.at + rnd.hold <= 60.0
        downed = [t for f in rnd.faults if f.kind in ("stop", "kill", "pause") for t in f.targets]
        assert len(downed) == len(set(downed))
        assert len({f.kind for f in rnd.faults}) == len(rnd.faults)


def test_chaos_never_touches_holy_services_and_never_cuts_neutral_ones() -> None:
    plan = chaos.plan_chaos(
        ["a", "b", "c", "db", "mon"],
        seed=1,
        duration=300.0,
        interval=chaos.Span(1, 1),
        hold=chaos.Span(1, 1),
        at_once=(1, 3),
        holy=["db"],
        neutral=["mon"],
    )
    for rnd in plan.rounds:
        for fault in rnd.faults:
            assert "db" not in fault.targets
            if fault.partition is not None:
                assert all(reachable(fault.partition, s, "mon") for s in "abc")
                assert all("db" not in (c.src, c.dst) for c in fault.partition.cuts)


def test_spans_and_kinds_parse_or_say_why() -> None:
    assert chaos.parse_span("500ms..2s", "--hold") == chaos.Span(0.5, 2.0)
    assert chaos.parse_span("3s", "--hold") == chaos.Span(3.0, 3.0)
    assert chaos.parse_count_span("1..2", "--at-once") == (1, 2)
    with pytest.raises(UsageError):
        chaos.parse_span("5s..1s", "--hold")
    with pytest.raises(UsageError):
        chaos.parse_kinds("partition,meteor")


def test_a_run_heals_and_its_replay_makes_the_same_changes(session: Session) -> None:
    session.up()
    plan = chaos.plan_chaos(
        ["a", "b", "c"],
        seed=3,
        duration=0.6,
        kinds=["partition", "flaky", "kill", "pause"],
        interval=chaos.Span(0.05, 0.1),
        hold=chaos.Span(0.05, 0.1),
        at_once=(1, 2),
    )
    session.actor = Actor("chaos", run="r1")
    chaos.ChaosRunner(session, chaos.Stop()).run(plan, "r1")
    recorded = chaos.run_events(session.events())
    assert recorded[0].what == "chaos start" and recorded[-1].what == "chaos end"
    assert session.desired_faults().is_empty
    session.actor = Actor("chaos", run="r2")
    chaos.ChaosRunner(session, chaos.Stop()).replay(recorded, "r2")
    replayed = [e for e in session.events() if e.run == "r2"]
    assert chaos.changes(replayed) == chaos.changes(recorded)
    assert len(chaos.changes(recorded)) >= 4


def test_a_stopped_run_heals_what_is_in_force(session: Session) -> None:
    session.up()
    plan = chaos.plan_chaos(
        ["a", "b", "c"],
        seed=5,
        duration=30.0,
        kinds=["partition"],
        interval=chaos.Span(0.01, 0.01),
        hold=chaos.Span(30, 30),
    )
    stop = chaos.Stop()
    session.actor = Actor("chaos", run="r3")

    def view(state: chaos.ChaosState) -> None:
        if state.in_force:
            stop.set("stopped")

    runner = chaos.ChaosRunner(session, stop, view)
    state = runner.run(plan, "r3")
    assert state.finished == "stopped"
    assert [e.what for e in session.events()][-3:] == ["partition", "join", "chaos end"]
    assert not session.desired_faults().partition


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
