"""The database-wide write lock: one session writes at a time, the others wait their turn.

Why a lock of the server's own, when SQLite has one: SQLite's lock fails a writer at
once ("database is locked") when a transaction that began by reading finds that
another connection wrote in the meantime, whatever the busy timeout; and a wait inside
SQLite would block the event loop. So a session takes this lock before anything that
writes the main database or opens a transaction, and keeps it until its transaction
ends: then no other session of this server writes between its read and its write.
Waiters are served first come, first served, each for at most its own busy timeout
(`.timeout MS`, `PRAGMA busy_timeout`). It lives in the event loop's thread only.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from squall.sqlite._database import Failure


@dataclass(eq=False)
class _Waiter:
    owner: object
    granted: Callable[[], None]
    timer: asyncio.TimerHandle | None = None


class WriteLock:
    """Who writes now, and who waits to."""

    def __init__(self) -> None:
        self._holder: object | None = None
        self._queue: deque[_Waiter] = deque()
        self._granting = False

    @property
    def holder(self) -> object | None:
        """The owner that holds the lock, if any."""
        return self._holder

    def take(self, owner: object) -> bool:
        """Hold the lock now if nobody holds it or waits for it; else change nothing."""
        if self._holder is None and not self._queue:
            self._holder = owner
            return True
        return False

    def acquire(
        self,
        owner: object,
        wait: float,
        granted: Callable[[], None],
        refused: Callable[[Failure], None],
    ) -> None:
        """Call `granted()` once `owner` holds the lock: now if nobody holds it or waits,
        else in turn; `refused()` if that takes longer than `wait` seconds."""
        if self.take(owner):
            granted()
            return
        waiter = _Waiter(owner, granted)
        waiter.timer = asyncio.get_running_loop().call_later(
            wait, self._expire, waiter, wait, refused
        )
        self._queue.append(waiter)

    def release(self, owner: object) -> None:
        """`owner` is done writing: the next waiter's turn."""
        if self._holder is not owner:
            return
        self._holder = None
        if self._queue and not self._granting:  # a grant that releases at once does not
            self._grant_next()  # nest the next one

    def cancel(self, owner: object) -> None:
        """`owner` is gone: drop its place in the queue (a lock it holds stays held)."""
        for waiter in [w for w in self._queue if w.owner is owner]:
            self._queue.remove(waiter)
            if waiter.timer is not None:
                waiter.timer.cancel()

    def _grant_next(self) -> None:
        self._granting = True
        try:
            while self._holder is None and self._queue:
                waiter = self._queue.popleft()
                if waiter.timer is not None:
                    waiter.timer.cancel()
                self._holder = waiter.owner
                waiter.granted()
        finally:
            self._granting = False

    def _expire(self, waiter: _Waiter, wait: float, refused: Callable[[Failure], None]) -> None:
        if waiter in self._queue:
            self._queue.remove(waiter)
            refused(
                Failure(
                    f"database is locked: waited {wait * 1000:.0f} ms for another "
                    "session's transaction (.timeout MS sets the wait)",
                    "SQLITE_BUSY",
                )
            )
