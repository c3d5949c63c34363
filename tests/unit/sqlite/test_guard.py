"""Which statements the guard lets a session run, sends to the write lock, or refuses."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from squall.sqlite._database import failure, open_keeper, open_session, run
from squall.sqlite._guard import Guard


@pytest.fixture
def session(tmp_path: Path) -> tuple[sqlite3.Connection, Guard]:
    path = tmp_path / "db"
    keeper = open_keeper(path, read_only=False)
    keeper.execute("CREATE TABLE t(x)")
    keeper.close()
    guard = Guard(read_only=False)
    conn = open_session(path, guard)
    guard.reset(time.monotonic() + 5)
    run(conn, "CREATE TEMP TABLE tt(y)", (), None)
    return conn, guard


LOCKED = [
    "INSERT INTO t VALUES (2)",
    "CREATE TABLE u(y)",
    "CREATE VIEW v AS SELECT 1",
    "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END",
    "DROP TABLE t",
    "CREATE INDEX ti ON t(x)",
    "ALTER TABLE t ADD COLUMN z",
    "BEGIN",
    "SAVEPOINT a",
    "PRAGMA user_version=3",
    "PRAGMA optimize",
    "VACUUM",
    "ANALYZE",
]
FREE = [
    "SELECT x FROM t",
    "INSERT INTO tt VALUES (1)",
    "UPDATE temp.tt SET y = 2",
    "CREATE TEMP VIEW tv AS SELECT * FROM t",
    "CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO tt VALUES (new.x); END",
    "CREATE INDEX temp.tti ON tt(y)",
    "ALTER TABLE tt ADD COLUMN z",
    "PRAGMA foreign_keys=ON",
    "PRAGMA recursive_triggers=1",
    "PRAGMA cache_size=100",
    "PRAGMA query_only=0",
    "PRAGMA journal_mode",
    "PRAGMA table_info(t)",
    "PRAGMA temp.user_version=3",
    "SELECT count(*) FROM pragma_table_info('t')",
]
REFUSED = [
    ("ATTACH '/etc/passwd' AS p", "ATTACH"),
    ("DETACH main", "DETACH"),
    ("SELECT load_extension('x')", "load_extension"),
    ("VACUUM INTO '/tmp/x.db'", "VACUUM INTO"),
    ("PRAGMA journal_mode=DELETE", "journal_mode"),
    ("PRAGMA page_size=1024", "page_size"),
    ("PRAGMA wal_checkpoint", "wal_checkpoint"),
    ("PRAGMA synchronous=OFF", "synchronous"),
    ("PRAGMA locking_mode=EXCLUSIVE", "locking_mode"),
    ("PRAGMA writable_schema=ON", "writable_schema"),
]


@pytest.mark.parametrize("sql", LOCKED)
def test_main_writes_and_transactions_wait_for_the_lock(
    session: tuple[sqlite3.Connection, Guard], sql: str
) -> None:
    conn, guard = session
    guard.reset(time.monotonic() + 5)
    with pytest.raises(sqlite3.DatabaseError):
        run(conn, sql, (), None)
    assert guard.wants_lock and guard.denied is None
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    guard.reset(time.monotonic() + 5, locked=True)
    run(conn, sql, (), None)
    assert guard.took_lock


@pytest.mark.parametrize("sql", FREE)
def test_reads_temp_writes_and_settings_need_no_lock(
    session: tuple[sqlite3.Connection, Guard], sql: str
) -> None:
    conn, guard = session
    guard.reset(time.monotonic() + 5)
    run(conn, sql, (), None)
    assert not guard.wants_lock and not guard.took_lock


@pytest.mark.parametrize(("sql", "named"), REFUSED)
def test_what_reaches_past_the_session_is_refused_even_with_the_lock(
    session: tuple[sqlite3.Connection, Guard], sql: str, named: str
) -> None:
    conn, guard = session
    for locked in (False, True):
        guard.reset(time.monotonic() + 5, locked=locked)
        with pytest.raises(sqlite3.DatabaseError) as raised:
            run(conn, sql, (), None)
        outcome = failure(raised.value, guard, 5)
        assert outcome.code == "SQLITE_AUTH" and named in outcome.message


def test_busy_timeout_is_left_to_the_session(session: tuple[sqlite3.Connection, Guard]) -> None:
    conn, guard = session
    for sql, value in (("PRAGMA busy_timeout", None), ("PRAGMA busy_timeout = 250", "250")):
        guard.reset(time.monotonic() + 5)
        with pytest.raises(sqlite3.DatabaseError):
            run(conn, sql, (), None)
        assert guard.busy_pragma == (value,)
    guard.reset(time.monotonic() + 5, trusted=True)
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (0,)


def test_a_trigger_that_writes_main_makes_a_temp_insert_need_the_lock(
    session: tuple[sqlite3.Connection, Guard],
) -> None:
    conn, guard = session
    guard.reset(time.monotonic() + 5)
    run(
        conn,
        "CREATE TEMP TRIGGER tr AFTER INSERT ON tt BEGIN INSERT INTO t VALUES (1); END",
        (),
        None,
    )
    guard.reset(time.monotonic() + 5)
    with pytest.raises(sqlite3.DatabaseError):
        run(conn, "INSERT INTO tt VALUES (1)", (), None)
    assert guard.wants_lock
