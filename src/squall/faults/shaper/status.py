"""What the running shaper reports about itself, as a JSON file beside its config.

The daemon rewrites it atomically after every reconfiguration (so a caller can wait
for its config's hash to appear) and once a second for the counters; the control side
only reads it. Counters are cumulative since the daemon started.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from squall.atomic import write_atomic

COUNTER_NAMES = (
    "received",
    "sent",
    "dropped",
    "duplicated",
    "corrupted",
    "reordered",
    "overruns",
    "errors",
)
"""received: packets read from the queue; sent: copies re-sent or accepted late;
dropped: lost on purpose; overruns: times the socket buffer overflowed (those packets
went through unshaped: the queue fails open); errors: failed sends or verdicts."""


def config_hash(text: str | bytes) -> str:
    """The identity of a config file's content; what the daemon reports as applied."""
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class QueueReport:
    num: int
    mode: str
    counters: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class NamespaceReport:
    netns: str
    label: str
    queues: tuple[QueueReport, ...] = ()


@dataclass(frozen=True)
class Failure:
    """A namespace or queue of the config the shaper could not serve, and why."""

    netns: str
    label: str
    error: str
    queue: int | None = None

    def __str__(self) -> str:
        where = self.label + (f" queue {self.queue}" if self.queue is not None else "")
        return f"{where} ({self.netns}): {self.error}"


@dataclass(frozen=True)
class DaemonReport:
    pid: int
    applied_hash: str | None
    namespaces: tuple[NamespaceReport, ...] = ()
    failures: tuple[Failure, ...] = ()
    updated: float = 0.0
    """Wall-clock time of this report (seconds since the epoch)."""
    applies: int = 0
    """How many times the daemon has (re)applied its config; a reload bumps it even
    when the content is unchanged (it retries namespaces that failed)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DaemonReport:
        raw = json.loads(text)
        return cls(
            pid=int(raw["pid"]),
            applied_hash=raw.get("applied_hash"),
            namespaces=tuple(
                NamespaceReport(
                    netns=ns["netns"],
                    label=ns["label"],
                    queues=tuple(
                        QueueReport(q["num"], q["mode"], dict(q.get("counters", {})))
                        for q in ns.get("queues", ())
                    ),
                )
                for ns in raw.get("namespaces", ())
            ),
            failures=tuple(Failure(**f) for f in raw.get("failures", ())),
            updated=float(raw.get("updated", 0.0)),
            applies=int(raw.get("applies", 0)),
        )

    def write(self, path: Path) -> None:
        write_atomic(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> DaemonReport | None:
        """The report at `path`, or None if there is none (or it is unreadable)."""
        try:
            return cls.from_json(path.read_text())
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def totals(self) -> dict[str, int]:
        total = dict.fromkeys(COUNTER_NAMES, 0)
        for ns in self.namespaces:
            for queue in ns.queues:
                for name, value in queue.counters.items():
                    total[name] = total.get(name, 0) + value
        return total


__all__ = [
    "COUNTER_NAMES",
    "DaemonReport",
    "Failure",
    "NamespaceReport",
    "QueueReport",
    "config_hash",
]
