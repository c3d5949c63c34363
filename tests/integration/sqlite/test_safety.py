"""What a network client must not be able to do."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

import squall.sqlite
from squall.errors import SqliteQueryError, SqliteServerError
from tests.integration.sqlite.conftest import ServerProcess, Telnet


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t(x)")
    conn.execute("INSERT INTO t VALUES ('original')")
    conn.commit()
    conn.close()
    return path


def _contents(db: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT type, name, sql FROM sqlite_schema ORDER BY name").fetchall()
    rows += conn.execute("SELECT * FROM t").fetchall()
    rows += conn.execute("PRAGMA journal_mode").fetchall()
    conn.close()
    return rows


DENIED = [
    ("ATTACH '/etc/passwd' AS p", "ATTACH"),
    ("ATTACH DATABASE ':memory:' AS m", "ATTACH"),
    ("DETACH main", "DETACH"),
    ("SELECT load_extension('/usr/lib/x86_64-linux-gnu/libsqlite3.so.0')", "load_extension"),
    ("VACUUM INTO '/tmp/squall-stolen.db'", "VACUUM INTO"),
    ("PRAGMA journal_mode=DELETE", "journal_mode"),
    ("PRAGMA writable_schema=ON", "writable_schema"),
    ("PRAGMA wal_checkpoint(TRUNCATE)", "wal_checkpoint"),
    ("PRAGMA page_size=1024", "page_size"),
    ("PRAGMA auto_vacuum=FULL", "auto_vacuum"),
    ("PRAGMA locking_mode=EXCLUSIVE", "locking_mode"),
]


@pytest.mark.parametrize(("sql", "named"), DENIED)
def test_denied_operations(
    db: Path, server_factory: Callable[..., ServerProcess], sql: str, named: str
) -> None:
    before = _contents(db)
    server = server_factory(db)
    with squall.sqlite.connect("127.0.0.1", server.port) as client:
        with pytest.raises(SqliteQueryError, match=named) as denied:
            client.execute(sql)
        assert denied.value.code == "SQLITE_AUTH"
        client.execute("BEGIN")  # also inside a transaction, on the writer
        with pytest.raises(SqliteQueryError, match=f"{named}|from within a transaction"):
            client.execute(sql)
        client.execute("ROLLBACK")
        assert client.execute("SELECT x FROM t").rows == [("original",)]
    assert server.terminate() == 0
    assert _contents(db) == before
    assert not Path("/tmp/squall-stolen.db").exists()


def test_read_only_refuses_every_write(
    db: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    server = server_factory(db, "--read-only")
    writes = (
        "INSERT INTO t VALUES (1)",
        "CREATE TABLE u(y)",
        "DROP TABLE t",
        "PRAGMA user_version=7",
        "VACUUM",
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END",
    )
    with squall.sqlite.connect("127.0.0.1", server.port) as client:
        for sql in writes:
            with pytest.raises(SqliteQueryError, match="readonly"):
                client.execute(sql)
        # As `sqlite3 -readonly`: a read transaction and temp tables are the session's own.
        client.execute("BEGIN")
        with pytest.raises(SqliteQueryError, match="readonly"):
            client.execute("UPDATE t SET x = 'changed'")
        client.execute("CREATE TEMP TABLE scratch AS SELECT x FROM t")
        assert client.execute("SELECT x FROM scratch").rows == [("original",)]
        client.execute("COMMIT")
        assert client.execute("SELECT x FROM t").rows == [("original",)]
    assert server.terminate() == 0
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_token_is_required(
    db: Path, tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    before = _contents(db)
    server = server_factory(db, "--token-file", str(token_file))
    raw = Telnet(server.port)
    assert raw.read_until(b"sqlite> ").endswith(
        b"Authentication required: send .auth TOKEN\nsqlite> "
    )
    raw.send(b"insert into t values ('no token');\n.tables\n")
    assert (
        raw.read_until(b"sqlite> ") == b"Error: authentication required: send .auth TOKEN\nsqlite> "
    )
    assert (
        raw.read_until(b"sqlite> ") == b"Error: authentication required: send .auth TOKEN\nsqlite> "
    )
    raw.send(b".auth wrong\n.auth wrong\n.auth wrong\n")
    assert raw.read_all().endswith(b"Error: authentication failed; closing\n")
    with pytest.raises(SqliteServerError, match="authentication failed"):
        squall.sqlite.connect("127.0.0.1", server.port, token="wrong")
    with (
        squall.sqlite.connect("127.0.0.1", server.port) as anonymous,
        pytest.raises(SqliteQueryError, match="authentication required"),
    ):
        anonymous.execute("DELETE FROM t")
    assert _contents(db) == before
    with squall.sqlite.connect("127.0.0.1", server.port, token="s3cret") as client:
        client.execute("INSERT INTO t VALUES ('with token')")
        assert len(client.execute("SELECT * FROM t").rows) == 2
