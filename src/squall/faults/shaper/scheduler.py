"""Due times for held packets, and waiting for the next one precisely.

One heap for every queue of every namespace, keyed by monotonic due time. epoll only
sleeps in whole milliseconds (Python rounds up), which alone would make every delay up
to 1 ms late; so long waits stop a millisecond short and the last stretch is waited
with `select`, whose timeout is in microseconds, on the epoll descriptor itself.
"""

from __future__ import annotations

import heapq
import itertools
import select
from typing import Protocol


class Releaser(Protocol):
    """What holds packets: it lets one go when its time comes."""

    def release(self, item: object) -> None: ...


_Entry = tuple[float, int, Releaser, object]


class Scheduler:
    """Packets waiting for their due time, earliest first, ties in arrival order."""

    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, due: float, owner: Releaser, item: object) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), owner, item))

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def run_due(self, now: float) -> int:
        """Release everything due by `now`; returns how many."""
        heap = self._heap
        done = 0
        while heap and heap[0][0] <= now:
            _due, _seq, owner, item = heapq.heappop(heap)
            owner.release(item)
            done += 1
        return done

    def release_all(self, owner: Releaser | None = None) -> int:
        """Release at once everything `owner` holds (everything, if None), in due order."""
        keep: list[_Entry] = []
        done = 0
        for entry in sorted(self._heap):
            if owner is None or entry[2] is owner:
                entry[2].release(entry[3])
                done += 1
            else:
                keep.append(entry)
        heapq.heapify(keep)
        self._heap = keep
        return done


def wait(ep: select.epoll, timeout: float) -> list[tuple[int, int]]:
    """Poll `ep` for up to `timeout` seconds, waking within tens of microseconds."""
    if timeout <= 0.0:
        return ep.poll(0)
    if timeout > 0.002:
        return ep.poll(timeout - 0.001)
    ready, _, _ = select.select([ep.fileno()], [], [], timeout)
    return ep.poll(0) if ready else []


__all__ = ["Releaser", "Scheduler", "wait"]
