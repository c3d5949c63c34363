"""Random delays with netem's meaning, so a shape means the same with or without netem.

netem (`sch_netem.c`) draws a 32-bit uniform number, mixes it with the previous draw
by the correlation (`next = (1 - rho) * fresh + rho * last`), and then either uses it
directly (uniform: `mu - sigma .. mu + sigma`) or looks it up in a 4096-entry inverse-CDF
table that `tc` ships (`normal`, `pareto`, `paretonormal`), scaled so that one table
unit is `sigma / 8192`. The tables here are computed the way iproute2's generators
(`netem/normal.c`, `pareto.c`, `paretonormal.c`) compute them, not copied.
"""

from __future__ import annotations

import random
from functools import cache
from statistics import NormalDist

from squall.faults.shaper_config import Distribution

TABLE_SIZE = 4096
"""Entries in one netem distribution table."""
DIST_SCALE = 8192
"""netem's NETEM_DIST_SCALE: a table value of 8192 means one sigma."""
_FINE = 16384
"""The generators evaluate the curve at this many points and keep every fourth."""
_PARETO_ALPHA = 3.0
_SHRT_MIN, _SHRT_MAX = -32768, 32767


def _clamp16(value: float) -> int:
    return max(_SHRT_MIN, min(_SHRT_MAX, round(value)))


def _normal_fine(i: int) -> float:
    # iproute2 scans x and keeps, for each rounded 16384*Phi(x), the last x: that is
    # Phi^-1((i + 0.5) / 16384).
    value: float = NormalDist().inv_cdf((i + 0.5) / _FINE)
    return value


def _pareto_value(k: int) -> float:
    # u runs from 1 down to 16/65536; mean of Pareto(alpha=3, xm=1) is 1.5.
    u = (65536 - 16 * k) / 65536
    return float((u ** (-1.0 / _PARETO_ALPHA) - 1.5) * (4.0 / 3.0) * DIST_SCALE)


@cache
def table(distribution: Distribution) -> tuple[int, ...] | None:
    """The netem table for `distribution`; None for uniform (netem uses no table)."""
    if distribution == "uniform":
        return None
    if distribution == "normal":
        return tuple(_clamp16(_normal_fine(4 * k) * DIST_SCALE) for k in range(TABLE_SIZE))
    if distribution == "pareto":
        return tuple(_clamp16(min(_pareto_value(k), _SHRT_MAX)) for k in range(TABLE_SIZE))
    if distribution == "paretonormal":
        normal = (round(_normal_fine(4 * k) * DIST_SCALE) for k in range(TABLE_SIZE))
        pareto = (round(min(_pareto_value(k), _SHRT_MAX)) for k in range(TABLE_SIZE))
        # C integer division truncates toward zero, as iproute2's generator does.
        return tuple(_clamp16(int((n + 3 * p) / 4)) for n, p in zip(normal, pareto, strict=True))
    raise ValueError(f"unknown distribution {distribution!r}")


class CorrelatedUniform:
    """netem's `get_crandom`: uniform in [0, 1), each draw leaning on the last by `rho`."""

    __slots__ = ("_last", "_rho", "_rng")

    def __init__(self, rho: float, rng: random.Random) -> None:
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"correlation must be within 0..1, not {rho}")
        self._rho = rho
        self._rng = rng
        self._last = rng.random()

    def next(self) -> float:
        fresh = self._rng.random()
        if self._rho == 0.0:
            return fresh
        self._last = fresh * (1.0 - self._rho) + self._last * self._rho
        return self._last


class DelayDistribution:
    """Delays `mu +- sigma` drawn like netem's `tabledist`, never below zero."""

    __slots__ = ("_mu", "_sigma", "_source", "_table")

    def __init__(
        self,
        mu: float,
        sigma: float,
        distribution: Distribution,
        correlation: float,
        rng: random.Random,
    ) -> None:
        if mu < 0 or sigma < 0:
            raise ValueError("delay and jitter must not be negative")
        self._mu = mu
        self._sigma = sigma
        self._table = table(distribution)
        self._source = CorrelatedUniform(correlation, rng)

    @property
    def constant(self) -> bool:
        """True when every draw is `mu` (no jitter), so callers may skip drawing."""
        return self._sigma == 0.0

    def sample(self) -> float:
        if self._sigma == 0.0:
            return self._mu
        u = self._source.next()
        if self._table is None:
            value = self._mu - self._sigma + 2.0 * self._sigma * u
        else:
            t = self._table[min(int(u * TABLE_SIZE), TABLE_SIZE - 1)]
            value = self._mu + self._sigma * t / DIST_SCALE
        return value if value > 0.0 else 0.0


class CorrelatedEvent:
    """Yes/no with probability `p`, correlated like netem's loss/duplicate/corrupt draws.

    netem fires when `p >= get_crandom()`; correlation makes runs (bursty loss).
    """

    __slots__ = ("_p", "_source")

    def __init__(self, p: float, correlation: float, rng: random.Random) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"probability must be within 0..1, not {p}")
        self._p = p
        self._source = CorrelatedUniform(correlation, rng)

    @property
    def never(self) -> bool:
        return self._p == 0.0

    def happens(self) -> bool:
        if self._p == 0.0:
            return False
        if self._p >= 1.0:
            return True
        return self._source.next() < self._p


__all__ = [
    "DIST_SCALE",
    "TABLE_SIZE",
    "CorrelatedEvent",
    "CorrelatedUniform",
    "DelayDistribution",
    "table",
]
