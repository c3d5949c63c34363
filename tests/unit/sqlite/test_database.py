from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from squall.errors import SqliteServerError
from squall.sqlite._database import Failure, failure, open_reader, open_writer, run


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "db"
    conn, _ = open_writer(path)
    conn.execute("CREATE TABLE t(x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    return path


def test_writer_puts_the_file_in_wal_mode(db: Path) -> None:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_reader_sends_writes_to_the_writer(db: Path) -> None:
    conn, guard = open_reader(db)
    guard.reset(time.monotonic() + 5)
    assert run(conn, "SELECT x FROM t", (), None).rows == [(1,)]
    for sql, batchable in [
        ("INSERT INTO t VALUES (2)", True),
        ("CREATE TABLE u(y)", True),
        ("BEGIN", False),
        ("SAVEPOINT a", False),
        ("PRAGMA user_version=3", False),
        ("PRAGMA wal_checkpoint(TRUNCATE)", False),
    ]:
        guard.reset(time.monotonic() + 5)
        with pytest.raises(sqlite3.DatabaseError):
            run(conn, sql, (), None)
        assert guard.needs_writer and guard.batchable is batchable and guard.denied is None, sql


@pytest.mark.parametrize(
    "sql",
    [
        "ATTACH '/etc/passwd' AS p",
        "DETACH main",
        "SELECT load_extension('x')",
        "VACUUM INTO '/tmp/x.db'",
        "PRAGMA journal_mode=DELETE",
        "PRAGMA foreign_keys=ON",
    ],
)
def test_denied_everywhere(db: Path, sql: str) -> None:
    for conn, guard in (open_reader(db), open_writer(db)):
        guard.reset(time.monotonic() + 5)
        with pytest.raises(sqlite3.DatabaseError) as raised:
            run(conn, sql, (), None)
        outcome = failure(raised.value, guard, 5)
        assert isinstance(outcome, Failure) and outcome.code == "SQLITE_AUTH"
        assert outcome.message.startswith("not authorized: ")


def test_reads_allowed_pragmas(db: Path) -> None:
    conn, guard = open_reader(db)
    guard.reset(time.monotonic() + 5)
    assert run(conn, "PRAGMA table_info(t)", (), None).rows[0][1] == "x"
    assert run(conn, "PRAGMA journal_mode", (), None).rows == [("wal",)]


def test_deadline_interrupts(db: Path) -> None:
    conn, guard = open_reader(db)
    guard.reset(time.monotonic() + 0.05)
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"
    with pytest.raises(sqlite3.OperationalError) as raised:
        run(conn, endless, (), None)
    assert failure(raised.value, guard, 0.05).code == "SQLITE_INTERRUPT"


def test_max_rows_truncates(db: Path) -> None:
    conn, guard = open_reader(db)
    guard.reset(time.monotonic() + 5)
    ten = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 10) SELECT x FROM c"
    result = run(conn, ten, (), 3)
    assert result.rows == [(1,), (2,), (3,)] and result.truncated


def test_missing_file_for_reading(tmp_path: Path) -> None:
    with pytest.raises(SqliteServerError, match="cannot open"):
        open_reader(tmp_path / "missing")
