"""Where each statement runs: inline on a read-only connection, on a reader thread,
or on the one writer.

A point read takes microseconds, far less than a hop to another thread, so reads run
first right in the event loop on a read-only connection, with a short budget: a read
still running after `INLINE_BUDGET` is interrupted and run again from the start on a
reader thread (a read has no effects, so running it again is safe), where only the
statement timeout limits it. A statement that would write is stopped by the reader's
authorizer before it runs and goes to the writer; so does every statement of a session
that holds the writer (it must see its own uncommitted changes).
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from squall.sqlite._database import (
    INLINE_BUDGET,
    Failure,
    Guard,
    Outcome,
    Params,
    failure,
    open_reader,
    run,
    try_on_thread,
)
from squall.sqlite._writer import TransactionOwner, WriteJob, Writer

_READER_THREADS = 2


class Engine:
    """Runs statements for sessions; `open()` before use, `close()` after."""

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool,
        statement_timeout: float,
        idle_timeout: float,
        max_rows: int | None,
    ) -> None:
        self._path = path
        self._read_only = read_only
        self._statement_timeout = statement_timeout
        self._idle_timeout = idle_timeout
        self._max_rows = max_rows
        self._writer: Writer | None = None
        self._inline: tuple[sqlite3.Connection, Guard] | None = None
        self._pool: queue.SimpleQueue[tuple[sqlite3.Connection, Guard]] = queue.SimpleQueue()
        self._threads: ThreadPoolExecutor | None = None

    def open(self) -> None:
        """Open the writer (unless read-only), then the read-only connections.

        Raises:
            SqliteServerError: the database cannot be opened as asked.
        """
        if not self._read_only:
            self._writer = Writer(
                self._path,
                statement_timeout=self._statement_timeout,
                idle_timeout=self._idle_timeout,
                max_rows=self._max_rows,
            )
        self._inline = open_reader(self._path, busy_timeout_ms=0)  # never wait in the loop
        for _ in range(_READER_THREADS):
            self._pool.put(open_reader(self._path))
        self._threads = ThreadPoolExecutor(_READER_THREADS, thread_name_prefix="squall-sqlite-read")

    async def close(self) -> None:
        """Finish queued writes, checkpoint, close every connection."""
        if self._writer is not None:
            await self._writer.close()
        if self._threads is not None:
            self._threads.shutdown(wait=True)
        if self._inline is not None:
            self._inline[0].close()
        while not self._pool.empty():
            self._pool.get()[0].close()

    def in_transaction(self, owner: TransactionOwner) -> bool:
        """True while `owner` holds the writer inside BEGIN ... COMMIT."""
        return self._writer is not None and self._writer.holder is owner

    def forget(self, owner: TransactionOwner) -> None:
        """`owner` disconnected: drop its queued writes and roll back its transaction."""
        if self._writer is not None:
            self._writer.forget(owner)

    def execute(
        self,
        owner: TransactionOwner,
        sql: str,
        params: Params,
        busy_timeout: float,
        deliver: Callable[[Outcome], None],
    ) -> None:
        """Run one statement for `owner`; `deliver` gets the outcome, now or later."""
        writer = self._writer
        if writer is not None and writer.holder is owner:
            writer.submit(WriteJob(owner, sql, params, False, deliver), busy_timeout)
            return
        assert self._inline is not None, "Engine.open() was not called"
        conn, guard = self._inline
        guard.reset(time.monotonic() + INLINE_BUDGET)
        try:
            outcome: Outcome = run(conn, sql, params, self._max_rows)
        except (sqlite3.Error, ValueError, OverflowError) as exc:
            code = getattr(exc, "sqlite_errorname", "") or ""
            if guard.denied:
                outcome = failure(exc, guard, self._statement_timeout)
            elif guard.needs_writer or code.startswith("SQLITE_READONLY"):
                self._to_writer(owner, sql, params, guard.batchable, busy_timeout, deliver)
                return
            elif try_on_thread(exc, guard):
                self._in_thread(sql, params, deliver)
                return
            else:
                outcome = failure(exc, guard, self._statement_timeout)
        deliver(outcome)

    def _to_writer(
        self,
        owner: TransactionOwner,
        sql: str,
        params: Params,
        batchable: bool,
        busy_timeout: float,
        deliver: Callable[[Outcome], None],
    ) -> None:
        if self._writer is None:
            deliver(
                Failure(
                    "attempt to write a readonly database (the server runs with --read-only)",
                    "SQLITE_READONLY",
                )
            )
            return
        self._writer.submit(WriteJob(owner, sql, params, batchable, deliver), busy_timeout)

    def _in_thread(self, sql: str, params: Params, deliver: Callable[[Outcome], None]) -> None:
        assert self._threads is not None
        loop = asyncio.get_running_loop()
        future = self._threads.submit(self._read, sql, params)

        def done(f: Future[Outcome]) -> None:
            error = f.exception()
            outcome = Failure(f"reader failed: {error}") if error is not None else f.result()
            loop.call_soon_threadsafe(deliver, outcome)

        future.add_done_callback(done)

    def _read(self, sql: str, params: Params) -> Outcome:
        """On a reader thread: run a read with the full statement timeout."""
        conn, guard = self._pool.get()
        try:
            guard.reset(time.monotonic() + self._statement_timeout)
            try:
                return run(conn, sql, params, self._max_rows)
            except (sqlite3.Error, ValueError, OverflowError) as exc:
                return failure(exc, guard, self._statement_timeout)
        finally:
            self._pool.put((conn, guard))
