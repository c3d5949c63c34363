"""netem's random draws: table shapes, jitter spread, correlation, event rates."""

from __future__ import annotations

import itertools
import random
import statistics

import pytest

from squall.faults.shaper.distributions import (
    DIST_SCALE,
    TABLE_SIZE,
    CorrelatedEvent,
    CorrelatedUniform,
    DelayDistribution,
    table,
)
from squall.faults.shaper_config import Distribution


def lag1(values: list[float]) -> float:
    return statistics.correlation(values[:-1], values[1:])


@pytest.mark.parametrize("name", ["normal", "pareto", "paretonormal"])
def test_tables_are_sorted_inverse_cdfs_of_int16(name: Distribution) -> None:
    values = table(name)
    assert values is not None and len(values) == TABLE_SIZE
    assert list(values) == sorted(values)
    assert all(-32768 <= v <= 32767 for v in values)


def test_normal_table_has_unit_sigma() -> None:
    values = table("normal")
    assert values is not None
    scaled = [v / DIST_SCALE for v in values]
    assert abs(statistics.fmean(scaled)) < 0.01
    assert abs(statistics.pstdev(scaled) - 1.0) < 0.02
    assert values[TABLE_SIZE // 2] == pytest.approx(0, abs=5)


def test_pareto_table_is_skewed_to_the_right() -> None:
    values = table("pareto")
    assert values is not None
    assert values[0] == round(-0.5 * 4 / 3 * DIST_SCALE)  # (1 - 1.5) * 4/3 sigmas
    assert values[-1] == 32767
    # right-skewed: the mean sits above the median (tc's table clips the far tail)
    assert statistics.median(values) < statistics.fmean(values) < 0


def test_uniform_has_no_table() -> None:
    assert table("uniform") is None


def test_uniform_delay_stays_within_mu_plus_minus_sigma() -> None:
    dist = DelayDistribution(0.1, 0.01, "uniform", 0.0, random.Random(1))
    draws = [dist.sample() for _ in range(5000)]
    assert min(draws) >= 0.09 and max(draws) <= 0.11
    assert statistics.fmean(draws) == pytest.approx(0.1, abs=0.0005)


def test_normal_jitter_is_sigma() -> None:
    dist = DelayDistribution(0.1, 0.01, "normal", 0.0, random.Random(2))
    draws = [dist.sample() for _ in range(20000)]
    assert statistics.fmean(draws) == pytest.approx(0.1, abs=0.0005)
    assert statistics.pstdev(draws) == pytest.approx(0.01, rel=0.05)


def test_delays_never_go_negative() -> None:
    dist = DelayDistribution(0.001, 0.05, "normal", 0.0, random.Random(3))
    assert min(dist.sample() for _ in range(2000)) == 0.0


def test_no_jitter_is_constant() -> None:
    dist = DelayDistribution(0.1, 0.0, "pareto", 0.5, random.Random(4))
    assert dist.constant and {dist.sample() for _ in range(10)} == {0.1}


def test_correlation_leans_on_the_last_draw() -> None:
    plain = CorrelatedUniform(0.0, random.Random(5))
    leaning = CorrelatedUniform(0.75, random.Random(5))
    assert abs(lag1([plain.next() for _ in range(20000)])) < 0.03
    # next = 0.25 fresh + 0.75 last: an AR(1) process with coefficient 0.75
    assert lag1([leaning.next() for _ in range(20000)]) == pytest.approx(0.75, abs=0.03)


def test_correlated_delays_wander_slowly() -> None:
    dist = DelayDistribution(0.1, 0.01, "normal", 0.9, random.Random(6))
    assert lag1([dist.sample() for _ in range(10000)]) > 0.8


def test_event_rate_without_correlation() -> None:
    event = CorrelatedEvent(0.2, 0.0, random.Random(7))
    hits = sum(event.happens() for _ in range(50000))
    assert hits / 50000 == pytest.approx(0.2, abs=0.01)


def test_correlated_loss_comes_in_bursts() -> None:
    event = CorrelatedEvent(0.3, 0.8, random.Random(8))
    draws = [event.happens() for _ in range(50000)]
    after_hit = [b for a, b in itertools.pairwise(draws) if a]
    # P(loss | previous lost) is far above the overall rate
    assert sum(after_hit) / len(after_hit) > 2 * sum(draws) / len(draws)


def test_event_edges() -> None:
    rng = random.Random(9)
    assert not any(CorrelatedEvent(0.0, 0.0, rng).happens() for _ in range(100))
    assert all(CorrelatedEvent(1.0, 0.5, rng).happens() for _ in range(100))
    with pytest.raises(ValueError):
        CorrelatedEvent(1.5, 0.0, rng)
    with pytest.raises(ValueError):
        CorrelatedUniform(-0.1, rng)
