"""The one writer: a connection on its own thread and the queue in front of it.

Writes from every session meet here, in the event loop's thread:

- A session that is inside a transaction (after BEGIN or SAVEPOINT) *holds* the
  writer: only its statements run until the transaction ends. The others wait in the
  queue, each up to its busy timeout, instead of failing with "database is locked".
- Autocommit writes from different sessions are run together: one `BEGIN IMMEDIATE`,
  each statement in its own savepoint (so one failing statement changes nothing of the
  others), one `COMMIT`; every statement is acknowledged only after that commit.
- A holder that disconnects, or stays idle inside its transaction past the idle limit,
  is rolled back.
- Autocommit writes that find the writer idle (no holder, nothing running or queued)
  run in the event loop instead, like point reads: two hops between threads cost more
  than a single-row insert. Those that arrive in the same turn of the loop share one
  commit, as on the thread. Past `INLINE_BUDGET`, or if another process holds the
  file's lock, they are rolled back and queued for the thread.
- The WAL is checkpointed on the writer's thread every `CHECKPOINT_EVERY` commits,
  never by a commit in the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

from squall.sqlite._database import (
    INLINE_BUDGET,
    OTHER_PROCESS_WAIT_MS,
    Failure,
    Outcome,
    Params,
    failure,
    open_writer,
    run,
    try_on_thread,
)

_MAX_BATCH = 256
_FAR = 1e18
CHECKPOINT_EVERY = 1000


class TransactionOwner(Protocol):
    """What the writer needs from a session."""

    def transaction_rolled_back(self, reason: str) -> None:
        """The server rolled back this session's transaction (idle too long)."""


@dataclass(eq=False)
class WriteJob:
    """One statement waiting for the writer, and where its outcome goes."""

    owner: TransactionOwner
    sql: str
    params: Params
    batchable: bool
    deliver: Callable[[Outcome], None]
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class Writer:
    """The writing connection, its thread, and the queue in front of it."""

    def __init__(
        self,
        path: Path,
        *,
        statement_timeout: float,
        idle_timeout: float,
        max_rows: int | None,
    ) -> None:
        self._statement_timeout = statement_timeout
        self._idle_timeout = idle_timeout
        self._max_rows = max_rows
        self._queue: deque[WriteJob] = deque()
        self._holder: TransactionOwner | None = None
        self._running = False
        self._idle_timer: asyncio.TimerHandle | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._running_owner: TransactionOwner | None = None
        self._gone: set[TransactionOwner] = set()
        self._commits = 0  # since the last checkpoint
        self._inline: list[tuple[WriteJob, float]] = []  # to run in the loop's next turn
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="squall-sqlite-writer")
        self._conn, self._guard = open_writer(path)

    @property
    def holder(self) -> TransactionOwner | None:
        """The session whose transaction is open, if any."""
        return self._holder

    def submit(self, job: WriteJob, wait: float) -> None:
        """Run `job` now if the writer is idle, else queue it; if the writer stays busy
        for `wait` seconds it fails as locked."""
        if job.owner is self._holder:
            self._cancel_idle_timer()
        elif job.batchable and self._holder is None and not self._running and not self._queue:
            self._inline.append((job, wait))
            if len(self._inline) == 1:
                self._idle.clear()
                asyncio.get_running_loop().call_soon(self._run_inline)
            return
        self._queue.append(job)
        self._idle.clear()
        self._dispatch()
        if job in self._queue:
            loop = asyncio.get_running_loop()
            job.timer = loop.call_later(wait, self._expire, job, wait)

    def forget(self, owner: TransactionOwner) -> None:
        """`owner` is gone: drop its queued statements, roll back its transaction."""
        self._inline = [(job, wait) for job, wait in self._inline if job.owner is not owner]
        for job in [j for j in self._queue if j.owner is owner]:
            self._queue.remove(job)
            if job.timer is not None:
                job.timer.cancel()
        if owner is self._holder:
            self._rollback(owner, None)
        elif owner is self._running_owner:
            self._gone.add(owner)  # its statement may open a transaction: undo that after

    async def close(self) -> None:
        """Wait for queued work, checkpoint the WAL into the database, close."""
        await self._idle.wait()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._checkpoint_and_close)
        self._thread.shutdown(wait=True)

    def _checkpoint_and_close(self) -> None:
        self._guard.reset(_FAR, trusted=True)
        try:
            self._conn.execute(f"PRAGMA busy_timeout={OTHER_PROCESS_WAIT_MS}")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            self._conn.close()

    def _expire(self, job: WriteJob, wait: float) -> None:
        if job in self._queue:
            self._queue.remove(job)
            job.deliver(
                Failure(
                    f"database is locked: waited {wait * 1000:.0f} ms for another "
                    "session's transaction (.timeout MS sets the wait)",
                    "SQLITE_BUSY",
                )
            )
            self._settle()

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _rollback(self, owner: TransactionOwner, reason: str | None) -> None:
        def done(outcome: Outcome) -> None:
            if reason is not None:
                owner.transaction_rolled_back(reason)

        self._cancel_idle_timer()
        self._queue.appendleft(WriteJob(owner, "ROLLBACK", (), False, done))
        self._idle.clear()
        self._dispatch()

    def _idle_expired(self, owner: TransactionOwner) -> None:
        self._idle_timer = None
        if owner is self._holder and not self._running:
            reason = (
                f"transaction rolled back: idle for more than {self._idle_timeout:g}s inside BEGIN"
            )
            self._rollback(owner, reason)

    def _run_inline(self) -> None:
        """Run the writes gathered in one turn of the loop, here, or queue them."""
        jobs, self._inline = self._inline, []
        if not jobs:  # their sessions are gone
            self._settle()
            return
        work = [(job.sql, job.params) for job, _ in jobs]
        deadline = time.monotonic() + INLINE_BUDGET
        try:
            if len(work) == 1:
                outcomes = [self._run_one(*work[0], deadline=deadline)]
            else:
                outcomes = self._run_batch(work, deadline=deadline)
        except _TryOnThread:
            for job, wait in reversed(jobs):  # they came first: they stay first
                self._queue.appendleft(job)
                job.timer = asyncio.get_running_loop().call_later(wait, self._expire, job, wait)
        else:
            self._commits += 1
            for (job, _), outcome in zip(jobs, outcomes, strict=True):
                job.deliver(outcome)
        self._settle()

    def _dispatch(self) -> None:
        if self._running or self._inline:  # `_run_inline` dispatches when it is done
            return
        if not self._queue:
            if self._commits >= CHECKPOINT_EVERY and self._holder is None:
                self._commits = 0
                self._start(self._checkpoint, [])
            return
        if self._holder is not None:
            jobs = [j for j in self._queue if j.owner is self._holder][:1]
            if not jobs:
                return
        elif not self._queue[0].batchable:
            jobs = [self._queue[0]]
        else:
            jobs = []
            for job in self._queue:
                if not job.batchable or len(jobs) == _MAX_BATCH:
                    break
                jobs.append(job)
        for job in jobs:
            self._queue.remove(job)
            if job.timer is not None:
                job.timer.cancel()
        self._running_owner = jobs[0].owner if len(jobs) == 1 else None
        self._start(partial(self._execute, [(j.sql, j.params) for j in jobs]), jobs)

    def _start(self, work: Callable[[], tuple[list[Outcome], bool]], jobs: list[WriteJob]) -> None:
        """Run `work` on the writer's thread; `_finished` takes its outcome in the loop."""
        self._running = True
        loop = asyncio.get_running_loop()
        future = self._thread.submit(work)
        future.add_done_callback(lambda f: loop.call_soon_threadsafe(self._finished, jobs, f))

    def _finished(self, jobs: list[WriteJob], future: Future[tuple[list[Outcome], bool]]) -> None:
        self._running = False
        self._running_owner = None
        if not jobs:  # a checkpoint
            self._settle()
            return
        error = future.exception()
        if error is not None:
            outcomes: list[Outcome] = [Failure(f"writer failed: {error}")] * len(jobs)
            in_transaction = False
        else:
            outcomes, in_transaction = future.result()
            if not in_transaction:
                self._commits += 1
        if len(jobs) == 1:
            owner = jobs[0].owner
            was_holder = owner is self._holder
            self._holder = owner if in_transaction else None
            outcome = outcomes[0]
            if was_holder and not in_transaction and isinstance(outcome, Failure):
                outcomes = [
                    Failure(outcome.message + "; the transaction was rolled back", outcome.code)
                ]
            if owner in self._gone:
                self._gone.discard(owner)
                if in_transaction:
                    self._rollback(owner, None)
        for job, outcome in zip(jobs, outcomes, strict=True):
            job.deliver(outcome)
        self._dispatch()
        self._settle()

    def _settle(self) -> None:
        """After any change: arm the idle timer for a waiting holder, note idleness."""
        if self._running:
            return
        holder = self._holder
        if (
            holder is not None
            and self._idle_timer is None
            and not any(j.owner is holder for j in self._queue)
        ):
            loop = asyncio.get_running_loop()
            self._idle_timer = loop.call_later(self._idle_timeout, self._idle_expired, holder)
        if not self._queue and holder is None and not self._inline:
            self._idle.set()
        self._dispatch()

    # Everything below runs on the writer's thread, or in the loop from `_run_inline`
    # (only while the thread is idle: never both at once).

    def _execute(self, work: list[tuple[str, Params]]) -> tuple[list[Outcome], bool]:
        self._internal(f"PRAGMA busy_timeout={OTHER_PROCESS_WAIT_MS}")
        try:
            if len(work) == 1:
                return [self._run_one(*work[0])], self._conn.in_transaction
            try:
                return self._run_batch(work), False
            except sqlite3.Error:
                if self._conn.in_transaction:
                    self._internal("ROLLBACK")
                raise
        finally:
            self._internal("PRAGMA busy_timeout=0")

    def _checkpoint(self) -> tuple[list[Outcome], bool]:
        """Copy the WAL into the database where no reader needs it (never waits)."""
        self._guard.reset(_FAR, trusted=True)
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        return [], False

    def _run_batch(
        self, work: list[tuple[str, Params]], deadline: float | None = None
    ) -> list[Outcome]:
        """All of `work` in one transaction, each statement in its own savepoint.

        Raises:
            _TryOnThread: `deadline` was given (a run in the loop) and passed, or the
                file is locked; nothing was committed.
        """
        outcomes: dict[int, Outcome] = {}
        pending = list(range(len(work)))
        while pending:
            try:
                self._internal("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                if deadline is not None and try_on_thread(exc, self._guard):
                    raise _TryOnThread from exc
                raise
            lost: int | None = None
            done: dict[int, Outcome] = {}
            for index in pending:
                self._internal("SAVEPOINT squall_job")
                try:
                    outcome = self._run_one(*work[index], deadline=deadline)
                except _TryOnThread:
                    if self._conn.in_transaction:  # an interrupt may have ended it already
                        self._internal("ROLLBACK")
                    raise
                if isinstance(outcome, Failure):
                    if not self._conn.in_transaction:
                        lost = index  # the error ended the whole transaction
                        break
                    self._internal("ROLLBACK TO squall_job")
                self._internal("RELEASE squall_job")
                done[index] = outcome
            if lost is not None:
                # Nothing of this round was committed: fail the culprit, run the rest again.
                outcomes[lost] = outcome
                pending.remove(lost)
                continue
            try:
                self._internal("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._internal("ROLLBACK")
                done = dict.fromkeys(
                    pending, Failure(f"commit failed: {exc}", exc.sqlite_errorname)
                )
            outcomes.update(done)
            break
        return [outcomes[i] for i in range(len(work))]

    def _internal(self, sql: str) -> None:
        self._guard.reset(_FAR, trusted=True)
        self._conn.execute(sql)

    def _run_one(self, sql: str, params: Params, deadline: float | None = None) -> Outcome:
        """One statement; with a `deadline` (a run in the loop) it may raise `_TryOnThread`."""
        in_loop = deadline is not None
        self._guard.reset(
            time.monotonic() + self._statement_timeout if deadline is None else deadline
        )
        try:
            return run(self._conn, sql, params, self._max_rows)
        except (sqlite3.Error, ValueError, OverflowError) as exc:
            if in_loop and try_on_thread(exc, self._guard):
                raise _TryOnThread from exc
            return failure(exc, self._guard, self._statement_timeout)


class _TryOnThread(Exception):
    """A write run in the loop ran out of time or found the file locked; it changed
    nothing and must run again on the writer's thread."""
