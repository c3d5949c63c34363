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
        touched = [t for f in rnd.faults if f.kind != "partition" for t in f.targets]
        assert len(touched) == len(set(touched)), "each fault of a round on another service"
        assert sum(f.partition is not None for f in rnd.faults) <= 1


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


def test_at_once_counts_services_each_with_a_fault_of_a_kind_drawn_again() -> None:
    plan = chaos.plan_chaos(
        ["a", "b", "c"],
        seed=4,
        duration=120.0,
        kinds=["slow"],
        interval=chaos.Span(1, 2),
        hold=chaos.Span(1, 2),
        at_once=(2, 2),
    )
    assert plan.rounds
    for rnd in plan.rounds:
        assert [f.kind for f in rnd.faults] == ["slow", "slow"]
        assert len({f.targets for f in rnd.faults}) == 2


def test_more_at_once_than_services_is_one_line_naming_them() -> None:
    with pytest.raises(UsageError) as refused:
        chaos.plan_chaos(["a", "b", "c", "db"], seed=1, duration=60.0, at_once=(1, 4), holy=["db"])
    assert (
        str(refused.value)
        == "--at-once 1..4: more than the 3 services these kinds may touch (a, b, c)"
    )
    with pytest.raises(UsageError, match="more than the 2 services"):
        chaos.plan_chaos(["a", "b", "mon"], seed=1, duration=60.0, kinds=["isolate"],
                         at_once=(3, 3), neutral=["mon"])  # fmt: skip


def test_isolated_services_are_each_alone_as_under_blockade() -> None:
    plan = chaos.plan_chaos(
        ["a", "b", "c", "d"],
        seed=9,
        duration=60.0,
        kinds=["isolate"],
        interval=chaos.Span(1, 1),
        hold=chaos.Span(1, 1),
        at_once=(2, 2),
    )
    for rnd in plan.rounds:
        (fault,) = rnd.faults
        assert fault.kind == "isolate" and len(fault.targets) == 2 and fault.partition
        rest = sorted(set("abcd") - set(fault.targets))
        assert fault.partition.groups == (*((t,) for t in fault.targets), tuple(rest))
        for loner in fault.targets:
            assert not any(reachable(fault.partition, loner, s) for s in "abcd" if s != loner)
        assert reachable(fault.partition, rest[0], rest[1])


def test_a_timeline_of_too_many_rounds_is_refused() -> None:
    with pytest.raises(UsageError, match="too short"):
        chaos.plan_chaos(["a"], seed=1, duration=3600.0, kinds=["slow"],
                         interval=chaos.Span(0, 0), hold=chaos.Span(0, 0))  # fmt: skip
    with pytest.raises(UsageError, match="at most 366 days"):
        chaos.parse_span("1s.." + "9" * 40 + "s", "--hold")
