"""What happens to one packet of a queue: how many copies, how late, damaged or not.

Follows the order of netem's `netem_enqueue`: a duplicate adds a copy, a loss takes one
away (so a duplicated packet that is also "lost" still arrives once), corruption damages
what is left, and `reorder` sends that share of packets at once instead of late.
"""

from __future__ import annotations

import random

from squall.faults.shaper.distributions import CorrelatedEvent, DelayDistribution
from squall.faults.shaper_config import QueueSpec


class Policy:
    """The random state of one queue; `decide` is called once per packet."""

    __slots__ = ("_corrupt", "_delay", "_duplicate", "_loss", "_reorder", "fixed_delay", "spec")

    def __init__(self, spec: QueueSpec, rng: random.Random) -> None:
        self.spec = spec
        self._delay = DelayDistribution(
            spec.delay, spec.jitter, spec.distribution, spec.correlation, rng
        )
        self._loss = CorrelatedEvent(spec.loss, spec.loss_correlation, rng)
        self._duplicate = CorrelatedEvent(spec.duplicate, 0.0, rng)
        self._corrupt = CorrelatedEvent(spec.corrupt, 0.0, rng)
        self._reorder = CorrelatedEvent(spec.reorder, 0.0, rng)
        plain = (
            self._delay.constant
            and self._loss.never
            and self._duplicate.never
            and self._corrupt.never
            and self._reorder.never
        )
        self.fixed_delay: float | None = spec.delay if plain else None
        """Set when every packet gets the same delay and nothing else: the fast path."""

    def decide(self) -> tuple[int, float, bool]:
        """`(copies, delay seconds, corrupt)`; zero copies means drop the packet."""
        copies = 1
        if self._duplicate.happens():
            copies += 1
        if self._loss.happens():
            copies -= 1
        if copies == 0:
            return 0, 0.0, False
        corrupt = self._corrupt.happens()
        delay = 0.0 if self._reorder.happens() else self._delay.sample()
        return copies, delay, corrupt


__all__ = ["Policy"]
