"""One session's own SQLite connection, and where each of its statements runs.

A session is a sqlite3 shell of its own: its connection keeps its temp objects,
`changes()`, `last_insert_rowid()`, `total_changes()`, PRAGMAs and savepoints. Where a
statement runs:

- Not in a transaction, and no need of the write lock (reads, temp writes, settings):
  right in the event loop, with a budget of `INLINE_BUDGET`: a point read takes
  microseconds, far less than a hop to a thread. Past the budget it is interrupted
  (which, outside a transaction, undoes it) and run again on a reader thread, where
  only the statement timeout limits it.
- Needs the write lock (`Guard`): the session waits its turn (`WriteLock`), then runs
  it in the loop with the same budget, or past it on the writer thread. A statement
  that leaves a transaction open keeps the lock for the session until it ends.
- In a transaction: on a thread (the writer's while it holds the lock), never in the
  loop: interrupting a write inside a transaction would roll the whole of it back.

A session idle inside its transaction past the idle limit is rolled back (others wait
for the lock); one that disconnects is rolled back and its connection closed.
"""

from __future__ import annotations

import asyncio
import enum
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from squall.errors import SqliteServerError
from squall.sqlite._database import (
    INLINE_BUDGET,
    OTHER_PROCESS_WAIT_MS,
    Failure,
    Outcome,
    Params,
    Result,
    failure,
    open_session,
    run,
    try_on_thread,
)
from squall.sqlite._guard import Guard
from squall.sqlite._lock import WriteLock

_FAR = 1e18
# Texts remembered as needing the write lock, at most (in characters); then SQLite is
# made to check every compiled statement again and the list starts anew.
_MAX_REMEMBERED = 1 << 20


class _Next(enum.Enum):
    """A statement that did not run to an outcome: where it goes next."""

    LOCK = "wait for the write lock"
    THREAD = "run on a thread"


@dataclass(frozen=True)
class Shared:
    """What every session's link uses: the file, the limits, the lock and the threads."""

    path: Path
    read_only: bool
    statement_timeout: float
    idle_timeout: float
    max_rows: int | None
    lock: WriteLock
    readers: ThreadPoolExecutor
    writer: ThreadPoolExecutor
    wrote: Callable[[], None]
    gone: Callable[[Link], None]


class Link:
    """One session's connection (opened on its first statement) and its statements.

    Attributes:
        busy_timeout: seconds a statement waits for the write lock (`.timeout MS`,
            `PRAGMA busy_timeout`), as sqlite3's busy timeout waits for a lock.
    """

    def __init__(
        self, shared: Shared, busy_timeout: float, rolled_back: Callable[[str], None]
    ) -> None:
        self.busy_timeout = busy_timeout
        self._shared = shared
        self._rolled_back = rolled_back
        self._conn: sqlite3.Connection | None = None
        self._guard = Guard(read_only=shared.read_only)
        self._locking: set[str] = set()
        self._locking_size = 0
        self._holding = False
        self._busy = False
        self._closed = False
        self._idle: asyncio.TimerHandle | None = None

    @property
    def in_transaction(self) -> bool:
        """True inside BEGIN ... COMMIT (or an outermost SAVEPOINT)."""
        return self._conn is not None and self._conn.in_transaction

    def execute(self, sql: str, params: Params, deliver: Callable[[Outcome], None]) -> None:
        """Run one statement; `deliver` gets its outcome, now or later."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        conn = self._conn
        if conn is None:
            try:
                conn = self._conn = open_session(self._shared.path, self._guard)
            except SqliteServerError as exc:
                deliver(Failure(str(exc), "SQLITE_CANTOPEN"))
                return
        if conn.in_transaction:
            self._on_thread(sql, params, deliver)
        elif sql in self._locking:
            self._lock_then_run(sql, params, deliver)
        else:
            outcome = self._inline(conn, sql, params)
            if outcome is _Next.LOCK:
                self._lock_then_run(sql, params, deliver)
            elif outcome is _Next.THREAD:
                self._on_thread(sql, params, deliver)
            else:
                deliver(outcome)

    def close(self) -> None:
        """The session is gone: roll back, close (once a statement on a thread is done)."""
        self._closed = True
        self._shared.lock.cancel(self)
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if not self._busy:
            self._finish_close()

    def _inline(self, conn: sqlite3.Connection, sql: str, params: Params) -> Outcome | _Next:
        return self._attempt(conn, sql, params, time.monotonic() + INLINE_BUDGET, inline=True)

    def _attempt(
        self, conn: sqlite3.Connection, sql: str, params: Params, deadline: float, inline: bool
    ) -> Outcome | _Next:
        guard = self._guard
        guard.reset(deadline, locked=self._holding)
        try:
            return run(conn, sql, params, self._shared.max_rows)
        except (sqlite3.Error, ValueError, OverflowError) as exc:
            return self._after_error(conn, exc, inline)
        finally:
            if guard.took_lock and sql not in self._locking:
                self._remember(conn, sql)

    def _after_error(
        self, conn: sqlite3.Connection, exc: Exception, inline: bool
    ) -> Outcome | _Next:
        guard = self._guard
        if guard.denied or guard.read_only_write:
            return failure(exc, guard, self._shared.statement_timeout)
        if guard.busy_pragma is not None:
            return self._busy_timeout_pragma(conn, guard.busy_pragma[0])
        if guard.wants_lock:
            return _Next.LOCK
        if inline and try_on_thread(exc, guard):
            return _Next.THREAD
        return failure(exc, guard, self._shared.statement_timeout)

    def _busy_timeout_pragma(self, conn: sqlite3.Connection, value: str | None) -> Result:
        """`PRAGMA busy_timeout [= N]` reads or sets this session's wait for the lock.

        SQLite itself reads the value (on the side: the connection's own timeout
        stays 0, so that it never waits in the event loop)."""
        if value is not None:
            self._guard.reset(_FAR, trusted=True)
            literal = "'" + value.replace("'", "''") + "'"
            ms = conn.execute(f"PRAGMA busy_timeout = {literal}").fetchone()[0]
            conn.execute("PRAGMA busy_timeout = 0")
            self.busy_timeout = int(ms) / 1000
        return Result(("timeout",), [(round(self.busy_timeout * 1000),)], -1, None)

    def _remember(self, conn: sqlite3.Connection, sql: str) -> None:
        """`sql` needs the write lock: SQLite may run it again without asking the guard."""
        if self._locking_size + len(sql) > _MAX_REMEMBERED:
            self._locking.clear()
            self._locking_size = 0
            self._guard.install(conn)  # SQLite recompiles every statement, asking again
        self._locking.add(sql)
        self._locking_size += len(sql)

    def _lock_then_run(self, sql: str, params: Params, deliver: Callable[[Outcome], None]) -> None:
        lock = self._shared.lock
        if lock.take(self):  # the usual case, without a callback made for it
            self._run_locked(sql, params, deliver)
        else:
            granted = partial(self._run_locked, sql, params, deliver)
            lock.acquire(self, self.busy_timeout, granted, deliver)

    def _run_locked(self, sql: str, params: Params, deliver: Callable[[Outcome], None]) -> None:
        self._holding = True
        assert self._conn is not None
        outcome = self._inline(self._conn, sql, params)
        if isinstance(outcome, _Next):  # past the budget, or another process holds the file
            self._on_thread(sql, params, deliver)
            return
        self._after(outcome, deliver)

    def _after(self, outcome: Outcome, deliver: Callable[[Outcome], None]) -> None:
        """A statement is done: keep the lock while a transaction is open, else let go."""
        if self._holding and not self.in_transaction:
            self._holding = False
            self._shared.lock.release(self)
            self._shared.wrote()
        elif self._holding:
            loop = asyncio.get_running_loop()
            self._idle = loop.call_later(self._shared.idle_timeout, self._idle_expired)
        deliver(outcome)

    def _on_thread(self, sql: str, params: Params, deliver: Callable[[Outcome], None]) -> None:
        shared = self._shared
        self._busy = True
        loop = asyncio.get_running_loop()
        executor = shared.writer if self._holding else shared.readers
        future = executor.submit(self._run_waiting, sql, params)
        in_transaction = self.in_transaction

        def done(f: Future[Outcome | _Next]) -> None:
            loop.call_soon_threadsafe(self._thread_done, sql, params, in_transaction, f, deliver)

        future.add_done_callback(done)

    def _run_waiting(self, sql: str, params: Params) -> Outcome | _Next:
        """On a thread: run `sql` with the full statement timeout, waiting for another
        process's lock if need be."""
        conn, guard = self._conn, self._guard
        assert conn is not None
        guard.reset(_FAR, trusted=True)
        conn.execute(f"PRAGMA busy_timeout={OTHER_PROCESS_WAIT_MS}")
        try:
            deadline = time.monotonic() + self._shared.statement_timeout
            return self._attempt(conn, sql, params, deadline, inline=False)
        finally:
            guard.reset(_FAR, trusted=True)
            conn.execute("PRAGMA busy_timeout=0")

    def _thread_done(
        self,
        sql: str,
        params: Params,
        in_transaction: bool,
        future: Future[Outcome | _Next],
        deliver: Callable[[Outcome], None],
    ) -> None:
        self._busy = False
        if self._closed:
            self._finish_close()
            return
        error = future.exception()
        outcome = Failure(f"statement failed: {error}") if error is not None else future.result()
        if (
            isinstance(outcome, Failure)
            and outcome.code == "SQLITE_INTERRUPT"
            and in_transaction
            and not self.in_transaction
        ):  # the server's own limit undid the session's transaction: say so
            outcome = Failure(outcome.message + "; the transaction was rolled back", outcome.code)
        if isinstance(outcome, _Next):  # only LOCK, from a reader: the schema changed
            self._lock_then_run(sql, params, deliver)
        else:
            self._after(outcome, deliver)

    def _idle_expired(self) -> None:
        self._idle = None
        conn = self._conn
        if not self._holding or self._busy or conn is None or not conn.in_transaction:
            return
        self._guard.reset(_FAR, trusted=True)
        conn.execute("ROLLBACK")
        self._holding = False
        self._shared.lock.release(self)
        self._rolled_back(
            "transaction rolled back: idle for more than "
            f"{self._shared.idle_timeout:g}s inside BEGIN"
        )

    def _finish_close(self) -> None:
        if self._conn is not None:
            self._conn.close()  # rolls back an open transaction
            self._conn = None
        if self._holding:
            self._holding = False
            self._shared.lock.release(self)
        self._shared.gone(self)
