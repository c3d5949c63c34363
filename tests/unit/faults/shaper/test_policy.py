"""Per-packet decisions in netem's order: duplicate, loss, corrupt, reorder, delay."""

from __future__ import annotations

import random

from squall.faults.shaper.policy import Policy
from squall.faults.shaper_config import QueueSpec


def decisions(spec: QueueSpec, n: int = 10000) -> list[tuple[int, float, bool]]:
    policy = Policy(spec, random.Random(11))
    return [policy.decide() for _ in range(n)]


def test_plain_delay_takes_the_fast_path() -> None:
    assert Policy(QueueSpec(num=1, delay=0.1), random.Random()).fixed_delay == 0.1
    assert Policy(QueueSpec(num=1, delay=0.1, jitter=0.01), random.Random()).fixed_delay is None
    assert Policy(QueueSpec(num=1, loss=0.1), random.Random()).fixed_delay is None


def test_loss_and_duplicate_counts() -> None:
    got = decisions(QueueSpec(num=1, loss=0.3, duplicate=0.2))
    copies = [c for c, _, _ in got]
    # netem: a duplicated packet that is also lost still arrives once
    assert abs(copies.count(0) / len(got) - 0.3 * 0.8) < 0.02
    assert abs(copies.count(2) / len(got) - 0.2 * 0.7) < 0.02


def test_reorder_sends_a_share_immediately() -> None:
    got = decisions(QueueSpec(num=1, delay=0.05, reorder=0.25))
    immediate = sum(1 for _, delay, _ in got if delay == 0.0)
    assert abs(immediate / len(got) - 0.25) < 0.02
    assert {delay for _, delay, _ in got} == {0.0, 0.05}


def test_corrupt_share() -> None:
    got = decisions(QueueSpec(num=1, corrupt=0.1))
    assert abs(sum(c for _, _, c in got) / len(got) - 0.1) < 0.01


def test_dropped_packets_are_neither_delayed_nor_corrupted() -> None:
    got = decisions(QueueSpec(num=1, delay=0.1, loss=1.0, corrupt=1.0), 100)
    assert set(got) == {(0, 0.0, False)}
