from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from squall.errors import SqliteServerError
from squall.sqlite._database import failure, open_keeper, open_session, run
from squall.sqlite._guard import Guard


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "db"
    conn = open_keeper(path, read_only=False)
    conn.execute("CREATE TABLE t(x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    return path


def test_keeper_puts_the_file_in_wal_mode(db: Path) -> None:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_session_connections_never_wait_nor_checkpoint_on_their_own(db: Path) -> None:
    guard = Guard(read_only=False)
    conn = open_session(db, guard)
    guard.reset(time.monotonic() + 5, trusted=True)
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (0,)
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    assert conn.in_transaction is False


def test_deadline_interrupts(db: Path) -> None:
    guard = Guard(read_only=False)
    conn = open_session(db, guard)
    guard.reset(time.monotonic() + 0.05)
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"
    with pytest.raises(sqlite3.OperationalError) as raised:
        run(conn, endless, (), None)
    assert failure(raised.value, guard, 0.05).code == "SQLITE_INTERRUPT"


def test_max_rows_truncates(db: Path) -> None:
    guard = Guard(read_only=False)
    conn = open_session(db, guard)
    guard.reset(time.monotonic() + 5)
    ten = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 10) SELECT x FROM c"
    result = run(conn, ten, (), 3)
    assert result.rows == [(1,), (2,), (3,)] and result.truncated


def test_read_only_session_cannot_write_the_file(db: Path) -> None:
    guard = Guard(read_only=True)
    conn = open_session(db, guard)
    guard.reset(time.monotonic() + 5)
    with pytest.raises(sqlite3.DatabaseError) as raised:
        run(conn, "INSERT INTO t VALUES (2)", (), None)
    assert failure(raised.value, guard, 5).code == "SQLITE_READONLY"
    guard.reset(time.monotonic() + 5)
    run(conn, "CREATE TEMP TABLE mine(y)", (), None)  # the temp database is the session's


def test_missing_file_for_reading(tmp_path: Path) -> None:
    with pytest.raises(SqliteServerError, match="cannot open"):
        open_keeper(tmp_path / "missing", read_only=True)
    with pytest.raises(SqliteServerError, match="cannot open"):
        open_session(tmp_path / "missing", Guard(read_only=True))
