"""The database side of the server: the file, the write lock, the threads, checkpoints.

Why one connection per session: a sqlite3 shell keeps temp tables, `changes()`,
`last_insert_rowid()`, PRAGMAs and savepoints on its connection, and a session must
behave like one (a shared connection cannot: one session's temp table or
`foreign_keys=on` would be every session's). The file is in WAL mode, so readers never
wait for the writer nor it for them; writers take turns through one `WriteLock`, so
none meets "database is locked" from another session (see `_lock`).

Autocommit writes each commit on their own (WAL with `synchronous=NORMAL`: no fsync per
commit, and a commit acknowledged to a client survives the server being killed). The
connections never checkpoint on their own (that could stall the event loop); the
keeper connection copies the WAL into the database on the writer's thread every
`CHECKPOINT_EVERY` write transactions (see `_wrote`), and truncates it on close.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path

from squall.sqlite._database import OTHER_PROCESS_WAIT_MS, Failure, open_keeper
from squall.sqlite._link import Link, Shared
from squall.sqlite._lock import WriteLock

_READER_THREADS = 2
CHECKPOINT_EVERY = 1000
_FOREVER = 1e9


class Engine:
    """Opens the database for sessions; `open()` before use, `close()` after."""

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
        self._keeper: sqlite3.Connection | None = None
        self._shared: Shared | None = None
        self._links: set[Link] = set()
        self._no_links = asyncio.Event()
        self._writes = 0  # since the last checkpoint
        self._checkpointing = False

    def open(self) -> None:
        """Open (or create, in WAL mode) the database and start the threads.

        Raises:
            SqliteServerError: the database cannot be opened as asked.
        """
        self._keeper = open_keeper(self._path, read_only=self._read_only)
        self._no_links.set()
        self._shared = Shared(
            path=self._path,
            read_only=self._read_only,
            statement_timeout=self._statement_timeout,
            idle_timeout=self._idle_timeout,
            max_rows=self._max_rows,
            lock=WriteLock(),
            readers=ThreadPoolExecutor(_READER_THREADS, thread_name_prefix="squall-sqlite-read"),
            writer=ThreadPoolExecutor(1, thread_name_prefix="squall-sqlite-writer"),
            wrote=self._wrote,
            gone=self._gone,
        )

    def attach(self, busy_timeout: float, rolled_back: Callable[[str], None]) -> Link:
        """A new session's link; `rolled_back(reason)` tells it of an idle rollback."""
        assert self._shared is not None, "Engine.open() was not called"
        link = Link(self._shared, busy_timeout, rolled_back)
        self._links.add(link)
        self._no_links.clear()
        return link

    async def close(self) -> None:
        """Once every link is closed: checkpoint the WAL into the database, close."""
        await self._no_links.wait()
        shared, keeper = self._shared, self._keeper
        if shared is None or keeper is None:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(shared.writer, self._checkpoint_and_close, keeper)
        shared.writer.shutdown(wait=True)
        shared.readers.shutdown(wait=True)

    def _checkpoint_and_close(self, keeper: sqlite3.Connection) -> None:
        try:
            if not self._read_only:
                keeper.execute(f"PRAGMA busy_timeout={OTHER_PROCESS_WAIT_MS}")
                keeper.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            keeper.close()

    def _wrote(self) -> None:
        """A write transaction ended; now and then, checkpoint on the writer's thread.

        In two rounds: the first copies the WAL into the database while sessions go on
        writing (it is the slow one: it syncs both files); the second, holding the
        write lock, copies what they wrote meanwhile. Then the whole WAL is in the
        database and the next write starts it anew: a checkpoint that only races
        writes never catches up, and the WAL grows without end."""
        self._writes += 1
        shared = self._shared
        if self._writes < CHECKPOINT_EVERY or self._checkpointing or shared is None:
            return
        self._writes = 0
        self._checkpointing = True
        self._on_writer(self._take_lock_for_checkpoint)

    def _take_lock_for_checkpoint(self) -> None:
        assert self._shared is not None
        self._shared.lock.acquire(
            self, _FOREVER, partial(self._on_writer, self._checkpointed), _never_refused
        )

    def _checkpointed(self) -> None:
        self._checkpointing = False
        if self._shared is not None:
            self._shared.lock.release(self)

    def _on_writer(self, then: Callable[[], None]) -> None:
        """A passive checkpoint on the writer's thread; `then()` in the loop after it."""
        shared, keeper = self._shared, self._keeper
        assert shared is not None and keeper is not None
        loop = asyncio.get_running_loop()

        def done(_: Future[None]) -> None:
            loop.call_soon_threadsafe(then)

        shared.writer.submit(_passive_checkpoint, keeper).add_done_callback(done)

    def _gone(self, link: Link) -> None:
        self._links.discard(link)
        if not self._links:
            self._no_links.set()


def _never_refused(_: Failure) -> None:
    """The checkpoint waits for the lock as long as it takes."""


def _passive_checkpoint(keeper: sqlite3.Connection) -> None:
    """Copy the WAL into the database where no reader needs it (never waits)."""
    keeper.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
