"""Chaos timelines: the same seed gives the same plan; holy and neutral hold."""

from __future__ import annotations

import pytest

from squall.chaos import plan as chaos
from squall.errors import UsageError
from squall.faults.partition import reachable


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
