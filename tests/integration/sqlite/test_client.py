"""The Python client over the JSON-lines protocol, and the settings of a session."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import squall.sqlite
from squall.errors import SqliteQueryError, SqliteServerError
from squall.sqlite.config import ServerConfig
from tests.integration.sqlite.conftest import ServerProcess, Telnet


def test_typed_round_trip(tmp_path: Path, server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(tmp_path / "db")
    with squall.sqlite.connect("127.0.0.1", server.port) as db:
        db.execute("CREATE TABLE v(a, b, c, d, e)")
        values = (2**63 - 1, 0.1, "ü\n|x", b"\x00\xff", None)
        inserted = db.execute("INSERT INTO v VALUES (?, ?, ?, ?, ?)", values)
        assert inserted.rowcount == 1 and inserted.lastrowid == 1
        result = db.execute("SELECT * FROM v")
        assert result.columns == ("a", "b", "c", "d", "e")
        assert result.rows == [values]
        named = db.execute("SELECT :x + 1 AS y, 1e999", {"x": 41})
        assert named.rows == [(42, math.inf)]
        assert db.execute("SELECT 1; SELECT 2").rows == [(2,)]
        with pytest.raises(SqliteQueryError) as failed:
            db.execute("INSERT INTO nope VALUES (1)")
        assert "no such table" in failed.value.message
        assert db.text("SELECT 1, 'a'") == "1|a\n"
        assert db.text(".tables") == "v\n"


def test_transactions_and_busy_waiting(
    tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory(tmp_path / "db")
    with (
        squall.sqlite.connect("127.0.0.1", server.port) as first,
        squall.sqlite.connect("127.0.0.1", server.port) as second,
    ):
        first.execute("CREATE TABLE t(x)")
        first.execute("BEGIN")
        assert first.in_transaction
        first.execute("INSERT INTO t VALUES (1)")
        assert second.execute("SELECT count(*) FROM t").rows == [(0,)]  # readers go on
        done: list[float] = []

        def write() -> None:
            second.execute("INSERT INTO t VALUES (2)")  # waits for the writer
            done.append(time.monotonic())

        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.3)
        assert not done
        committed = time.monotonic()
        first.execute("COMMIT")
        writer.join(10)
        assert done and done[0] >= committed
        assert first.execute("SELECT x FROM t ORDER BY x").rows == [(1,), (2,)]
        second.text(".timeout 200")
        first.execute("BEGIN")
        first.execute("INSERT INTO t VALUES (3)")
        with pytest.raises(SqliteQueryError, match="database is locked: waited 200 ms"):
            second.execute("INSERT INTO t VALUES (4)")
        first.execute("ROLLBACK")
        second.execute("INSERT INTO t VALUES (4)")


def test_batched_writes_fail_alone(
    tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory(tmp_path / "db")
    with squall.sqlite.connect("127.0.0.1", server.port) as db:
        db.execute("CREATE TABLE u(x UNIQUE)")
        clients = [squall.sqlite.connect("127.0.0.1", server.port) for _ in range(8)]
        errors: list[str] = []

        def insert(conn: squall.sqlite.Connection, start: int) -> None:
            for i in range(start, start + 50):
                try:
                    conn.execute("INSERT INTO u VALUES (?)", [i % 120])
                except SqliteQueryError as exc:
                    errors.append(exc.code or "")

        threads = [threading.Thread(target=insert, args=(c, n * 50)) for n, c in enumerate(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert db.execute("SELECT count(*) FROM u").rows == [(120,)]
        assert len(errors) == 400 - 120 and set(errors) == {"SQLITE_CONSTRAINT_UNIQUE"}
        pipelined = db.executemany("INSERT INTO u VALUES (?)", [[1000 + i] for i in range(300)])
        assert len(pipelined) == 300 and pipelined[-1].lastrowid is not None
        for conn in clients:
            conn.close()


def test_statement_timeout_max_rows_max_connections(
    tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    args = ("--statement-timeout", "300ms", "--max-rows", "5", "--max-connections", "2")
    server = server_factory(tmp_path / "db", *args)
    with squall.sqlite.connect("127.0.0.1", server.port) as db:
        endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        started = time.monotonic()
        with pytest.raises(SqliteQueryError, match="statement timeout") as failed:
            db.execute(endless + "SELECT count(*) FROM c")
        assert failed.value.code == "SQLITE_INTERRUPT"
        assert time.monotonic() - started < 3
        with pytest.raises(SqliteQueryError, match="statement timeout"):  # on the writer too
            db.execute("CREATE TABLE big AS " + endless + "SELECT x FROM c")
        db.execute("CREATE TABLE t(x)")
        db.execute("BEGIN")
        db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(SqliteQueryError, match="timeout; the transaction was rolled back"):
            db.execute("INSERT INTO t " + endless + "SELECT x FROM c")
        assert not db.in_transaction
        assert db.execute("SELECT count(*) FROM t").rows == [(0,)]
        result = db.execute(endless + "SELECT x FROM c LIMIT 100")
        assert result.rows == [(1,), (2,), (3,), (4,), (5,)] and result.truncated
        with (
            squall.sqlite.connect("127.0.0.1", server.port),
            pytest.raises(SqliteServerError, match="too many connections"),
        ):
            squall.sqlite.connect("127.0.0.1", server.port)


def test_idle_transaction_is_rolled_back(
    tmp_path: Path, inprocess_server: Callable[[ServerConfig], int]
) -> None:
    port = inprocess_server(ServerConfig(db=tmp_path / "db", port=0, idle_transaction_timeout=0.3))
    with (
        squall.sqlite.connect("127.0.0.1", port) as db,
        squall.sqlite.connect("127.0.0.1", port) as other,
    ):
        db.execute("CREATE TABLE t(x)")
        db.execute("BEGIN")
        db.execute("INSERT INTO t VALUES (1)")
        other.execute("INSERT INTO t VALUES (2)")  # queued, then runs after the rollback
        with pytest.raises(SqliteQueryError, match=r"idle for more than 0\.3s"):
            db.execute("INSERT INTO t VALUES (3)")
        assert db.execute("SELECT x FROM t").rows == [(2,)]
        telnet = Telnet(port)
        telnet.read_until(b"sqlite> ")
        telnet.send(b"begin;\n")
        telnet.read_until(b"sqlite> ")
        notice = telnet.read_until(b"sqlite> ", timeout=5)
        assert (
            notice
            == b"\nError: transaction rolled back: idle for more than 0.3s inside BEGIN\nsqlite> "
        )


def test_sigterm_answers_the_statement_in_flight(
    tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory(tmp_path / "db")
    with squall.sqlite.connect("127.0.0.1", server.port) as db:
        answers: list[list[tuple[int | float | str | bytes | None, ...]]] = []
        slow = threading.Thread(
            target=lambda: answers.append(
                db.execute(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c"
                    " WHERE x < 3000000) SELECT count(*) FROM c"
                ).rows
            )
        )
        slow.start()
        time.sleep(0.2)  # the count is running on a reader thread now
        assert slow.is_alive()
        assert server.terminate() == 0
        slow.join(10)
        assert answers == [[(3_000_000,)]]
