"""What the userspace shaper must do, as data: the contract between plan and shaper.

The fault planner decides which packets go to which NFQUEUE number inside which
network namespace and what happens to them there; the shaper daemon reads this file
(JSON, written atomically into the cluster's state directory) and does it. On kernels
with `sch_netem` the planner writes no queues and no shaper runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from squall.atomic import write_atomic

Distribution = Literal["uniform", "normal", "pareto", "paretonormal"]
QueueMode = Literal["egress", "ingress"]

SHAPER_MARK = 0x5351_0000
"""fwmark the shaper puts on packets it re-sends; the queue rules skip marked packets."""
SHAPER_MARK_MASK = 0xFFFF_0000


@dataclass(frozen=True)
class QueueSpec:
    """One NFQUEUE in one namespace and what to do to each packet it receives.

    `egress` queues sit in OUTPUT/POSTROUTING: the shaper copies the packet, drops the
    original and re-sends the copy through a raw socket (marked) after its delay, so the
    sender's TCP is not throttled by small-queue accounting. `ingress` queues sit in
    PREROUTING/INPUT: the shaper holds the verdict and accepts after the delay.
    Probabilities are 0..1, durations seconds.
    """

    num: int
    mode: QueueMode = "egress"
    delay: float = 0.0
    jitter: float = 0.0
    distribution: Distribution = "uniform"
    correlation: float = 0.0
    loss: float = 0.0
    loss_correlation: float = 0.0
    duplicate: float = 0.0
    corrupt: float = 0.0
    reorder: float = 0.0
    """Share of packets sent at once instead of delayed (netem's `reorder`)."""


@dataclass(frozen=True)
class NamespaceQueues:
    netns: str
    """Path of the namespace: `/proc/<pid>/ns/net` or `/run/netns/<name>`."""
    label: str
    """Who this is, for logs and status (`<project>/<service>`)."""
    queues: tuple[QueueSpec, ...] = ()


@dataclass(frozen=True)
class ShaperConfig:
    namespaces: tuple[NamespaceQueues, ...] = ()
    mark: int = SHAPER_MARK
    mark_mask: int = SHAPER_MARK_MASK

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ShaperConfig:
        raw = json.loads(text)
        return cls(
            namespaces=tuple(
                NamespaceQueues(
                    netns=ns["netns"],
                    label=ns["label"],
                    queues=tuple(QueueSpec(**q) for q in ns["queues"]),
                )
                for ns in raw.get("namespaces", ())
            ),
            mark=int(raw.get("mark", SHAPER_MARK)),
            mark_mask=int(raw.get("mark_mask", SHAPER_MARK_MASK)),
        )

    def write(self, path: Path) -> None:
        """Atomically replace `path`, so the shaper never reads half a file."""
        write_atomic(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> ShaperConfig:
        return cls.from_json(path.read_text())


__all__ = [
    "SHAPER_MARK",
    "SHAPER_MARK_MASK",
    "Distribution",
    "NamespaceQueues",
    "QueueMode",
    "QueueSpec",
    "ShaperConfig",
]
