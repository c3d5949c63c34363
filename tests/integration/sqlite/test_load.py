"""Many writers at once, and a crash in the middle of them."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import squall.sqlite
from squall.errors import SqliteServerError
from tests.integration.sqlite.conftest import ServerProcess

CLIENTS = 50
INSERTS = 200


def _client_load(port: int, client: int, acked: list[int], problems: list[str]) -> None:
    """200 inserts: odd clients in explicit transactions of 10, even ones autocommit."""
    try:
        with squall.sqlite.connect("127.0.0.1", port) as db:
            for i in range(INSERTS):
                key = client * INSERTS + i
                if client % 2 and i % 10 == 0:
                    db.execute("BEGIN")
                db.execute("INSERT INTO t(k, client) VALUES (?, ?)", [key, client])
                if client % 2 and i % 10 == 9:
                    db.execute("COMMIT")
                    acked.extend(range(key - 9, key + 1))
                elif not client % 2:
                    acked.append(key)
    except SqliteServerError as exc:
        problems.append(str(exc))


def _run_load(port: int) -> tuple[list[int], list[str], list[threading.Thread]]:
    acked: list[int] = []
    problems: list[str] = []
    threads = [
        threading.Thread(target=_client_load, args=(port, c, acked, problems))
        for c in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    return acked, problems, threads


def _create(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t(k INTEGER PRIMARY KEY, client INTEGER)")
    conn.commit()
    conn.close()


def test_fifty_clients_two_hundred_inserts_each(
    tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    db = tmp_path / "db"
    _create(db)
    server = server_factory(db)
    acked, problems, threads = _run_load(server.port)
    for thread in threads:
        thread.join(120)
    assert problems == []  # in particular, nobody saw "database is locked"
    assert len(acked) == CLIENTS * INSERTS
    assert server.terminate() == 0
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (CLIENTS * INSERTS,)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_kill_9_mid_load_loses_no_acknowledged_insert(
    tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    db = tmp_path / "db"
    _create(db)
    server = server_factory(db)
    acked, problems, threads = _run_load(server.port)
    deadline = time.monotonic() + 30
    while len(acked) < CLIENTS * INSERTS // 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()  # SIGKILL: no cleanup at all
    for thread in threads:
        thread.join(30)
    seen = set(acked)
    assert 0 < len(seen) < CLIENTS * INSERTS
    assert problems  # the clients saw the connection die
    restarted = server_factory(db)
    with squall.sqlite.connect("127.0.0.1", restarted.port) as client:
        assert client.execute("PRAGMA integrity_check").rows == [("ok",)]
        stored = {int(str(row[0])) for row in client.execute("SELECT k FROM t").rows}
    assert seen <= stored
    # Explicit transactions are all or nothing: no half-committed block of 10.
    odd_blocks = {(k // 10) for k in stored if (k // INSERTS) % 2}
    for block in odd_blocks:
        assert set(range(block * 10, block * 10 + 10)) <= stored
