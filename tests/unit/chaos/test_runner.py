"""Chaos runs heal on every way out, and a replay makes the same changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.chaos import plan as chaos_plan
from squall.chaos import runner as chaos_runner
from squall.events import Actor
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


def test_a_run_heals_and_its_replay_makes_the_same_changes(session: Session) -> None:
    session.up()
    plan = chaos_plan.plan_chaos(
        ["a", "b", "c"],
        seed=3,
        duration=0.6,
        kinds=["partition", "flaky", "kill", "pause"],
        interval=chaos_plan.Span(0.05, 0.1),
        hold=chaos_plan.Span(0.05, 0.1),
        at_once=(1, 2),
    )
    session.actor = Actor("chaos", run="r1")
    chaos_runner.ChaosRunner(session, chaos_runner.Stop()).run(plan, "r1")
    recorded = chaos_runner.run_events(session.events())
    assert recorded[0].what == "chaos start" and recorded[-1].what == "chaos end"
    assert session.desired_faults().is_empty
    session.actor = Actor("chaos", run="r2")
    chaos_runner.ChaosRunner(session, chaos_runner.Stop()).replay(recorded, "r2")
    replayed = [e for e in session.events() if e.run == "r2"]
    assert chaos_runner.changes(replayed) == chaos_runner.changes(recorded)
    assert len(chaos_runner.changes(recorded)) >= 4


def test_a_stopped_run_heals_what_is_in_force(session: Session) -> None:
    session.up()
    plan = chaos_plan.plan_chaos(
        ["a", "b", "c"],
        seed=5,
        duration=30.0,
        kinds=["partition"],
        interval=chaos_plan.Span(0.01, 0.01),
        hold=chaos_plan.Span(30, 30),
    )
    stop = chaos_runner.Stop()
    session.actor = Actor("chaos", run="r3")

    def view(state: chaos_runner.ChaosState) -> None:
        if state.in_force:
            stop.set("stopped")

    runner = chaos_runner.ChaosRunner(session, stop, view)
    state = runner.run(plan, "r3")
    assert state.finished == "stopped"
    assert [e.what for e in session.events()][-3:] == ["partition", "join", "chaos end"]
    assert not session.desired_faults().partition


def test_a_run_puts_back_the_faults_in_force_before_it(session: Session) -> None:
    from squall.faults.model import Shape
    from squall.faults.partition import blockade_partition
    from squall.units import parse_duration

    session.up()
    before_cut = blockade_partition([["a"]], ["a", "b", "c"])
    session.partition(before_cut)
    session.shape(["a"], Shape(delay=parse_duration("20ms")), to_services=["b"])
    before = session.desired_faults()
    plan = chaos_plan.plan_chaos(
        ["a", "b", "c"],
        seed=2,
        duration=0.8,
        kinds=["isolate", "slow", "flaky"],
        interval=chaos_plan.Span(0.02, 0.05),
        hold=chaos_plan.Span(0.05, 0.1),
        at_once=(2, 3),
    )
    assert {f.kind for r in plan.rounds for f in r.faults} >= {"isolate", "slow"}
    session.actor = Actor("chaos", run="r4")
    chaos_runner.ChaosRunner(session, chaos_runner.Stop()).run(plan, "r4")
    after = session.desired_faults()
    assert after.partition == before.partition
    assert dict(after.shapes) == dict(before.shapes)
    whats = [e.what for e in session.events() if e.run == "r4"]
    assert "restore" in whats and "isolate" not in whats  # isolate is a partition


def test_a_run_stopped_midway_puts_back_the_partition_from_before(session: Session) -> None:
    from squall.faults.partition import blockade_partition

    session.up()
    before_cut = blockade_partition([["c"]], ["a", "b", "c"])
    session.partition(before_cut)
    plan = chaos_plan.plan_chaos(
        ["a", "b", "c"],
        seed=5,
        duration=30.0,
        kinds=["partition", "slow"],
        interval=chaos_plan.Span(0.01, 0.01),
        hold=chaos_plan.Span(30, 30),
        at_once=(2, 2),
    )
    stop = chaos_runner.Stop()

    def view(state: chaos_runner.ChaosState) -> None:
        if state.in_force:
            stop.set("stopped")

    session.actor = Actor("chaos", run="r5")
    chaos_runner.ChaosRunner(session, stop, view).run(plan, "r5")
    assert session.desired_faults().partition == before_cut
    assert not any(session.desired_faults().shapes.values())
