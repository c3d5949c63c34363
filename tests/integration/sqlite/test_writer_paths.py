"""Where a write runs: in the event loop when the write lock is free, else on the
writer's thread.

A write run in the loop must never be applied twice, never block other sessions, and
the WAL must still be checkpointed though no connection does it on its own.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import squall.sqlite
from squall.sqlite._engine import CHECKPOINT_EVERY
from tests.integration.sqlite.conftest import ServerProcess

PAGE = 4096


def test_write_past_the_inline_budget_is_applied_once(
    tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory(tmp_path / "db")
    with squall.sqlite.connect("127.0.0.1", server.port) as db:
        db.execute("CREATE TABLE t(x)")
        started = time.monotonic()
        db.execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000)"
            " INSERT INTO t SELECT x FROM c"
        )
        took = time.monotonic() - started
        assert took > 0.002  # long enough to be interrupted in the loop and run again
        assert db.execute("SELECT count(*), count(DISTINCT x) FROM t").rows == [(300_000, 300_000)]


def test_long_and_short_writes_together_are_each_applied_once(
    tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    """Writes of one turn share a commit; one running long sends them all to the thread."""
    server = server_factory(tmp_path / "db")
    with squall.sqlite.connect("127.0.0.1", server.port) as db:
        db.execute("CREATE TABLE t(x)")
        db.execute("CREATE TABLE u(x)")
        clients = [squall.sqlite.connect("127.0.0.1", server.port) for _ in range(4)]

        def long_writes(conn: squall.sqlite.Connection) -> None:
            for _ in range(3):
                conn.execute(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c"
                    " WHERE x < 100000) INSERT INTO t SELECT x FROM c"
                )

        def short_writes(conn: squall.sqlite.Connection, first: int) -> None:
            for i in range(first, first + 300):
                conn.execute("INSERT INTO u VALUES (?)", [i])

        threads = [threading.Thread(target=long_writes, args=(clients[0],))]
        threads += [
            threading.Thread(target=short_writes, args=(c, n * 300))
            for n, c in enumerate(clients[1:])
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert db.execute("SELECT count(*), count(DISTINCT x) FROM t").rows == [(300_000, 100_000)]
        assert db.execute("SELECT count(*), count(DISTINCT x) FROM u").rows == [(900, 900)]
        for conn in clients:
            conn.close()


def test_write_waits_for_another_process_while_reads_go_on(
    tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    path = tmp_path / "db"
    server = server_factory(path)
    with (
        squall.sqlite.connect("127.0.0.1", server.port) as writer,
        squall.sqlite.connect("127.0.0.1", server.port) as reader,
    ):
        writer.execute("CREATE TABLE t(x)")
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's write lock on the file
        done: list[float] = []

        def write() -> None:
            writer.execute("INSERT INTO t VALUES (1)")
            done.append(time.monotonic())

        thread = threading.Thread(target=write)
        thread.start()
        time.sleep(0.3)
        reads_started = time.monotonic()
        for _ in range(20):
            assert reader.execute("SELECT count(*) FROM t").rows == [(0,)]
        # A loop stuck behind the write would answer only after the 5 s lock wait.
        assert time.monotonic() - reads_started < 2.5
        assert not done
        released = time.monotonic()
        other.execute("ROLLBACK")
        other.close()
        thread.join(10)
        assert done and done[0] >= released
        assert reader.execute("SELECT x FROM t").rows == [(1,)]


def test_wal_is_checkpointed_under_steady_single_row_inserts(
    tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    path = tmp_path / "db"
    server = server_factory(path)
    inserts = 3 * CHECKPOINT_EVERY
    with squall.sqlite.connect("127.0.0.1", server.port) as db:
        db.execute("CREATE TABLE t(x)")
        for i in range(inserts):
            db.execute("INSERT INTO t VALUES (?)", [i])
        assert db.execute("SELECT count(*) FROM t").rows == [(inserts,)]
    wal = path.with_name(path.name + "-wal").stat().st_size
    # Each commit appends at least one page: unchecked, the WAL would hold 3000 pages.
    # Checked, it holds the commits between two checkpoints and those made while the
    # checkpoint's first round runs.
    assert wal < 2 * CHECKPOINT_EVERY * (PAGE + 24)
