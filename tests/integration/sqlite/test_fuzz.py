"""The protocol fuzzed while another client keeps working: the server never falls over."""

from __future__ import annotations

import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import squall.sqlite
from squall.errors import SqliteServerError
from tests.integration.sqlite.conftest import ServerProcess, Telnet, start_server

FRAGMENTS = [
    b"select 1;",
    b"select '",
    b'select "x',
    b"select 1 /* open comment",
    b"insert into scratch values (randomblob(20));",
    b"begin;",
    b"commit;",
    b"rollback;",
    b"create trigger tr after insert on scratch begin select 1;",
    b"end;",
    b"\r\n",
    b"\n",
    b"\r",
    b";",
    b".mode jsonl\n",
    b'{"sql": "select ?", "params": [1]}\n',
    b'{"sql": 5}\n',
    b"{]\n",
    b".mode csv\n",
    b".headers\n",
    b".timeout x\n",
    b".schema\n",
    b"\xff\xfe\x00\x80",
    b"\x00",
    b"\xef\xbb\xbf",
    b"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c;\n",
]

chunks = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(FRAGMENTS),
    st.integers(min_value=1, max_value=3).map(lambda n: b"x" * (n << 20)),  # huge, no newline
    st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db = tmp_path_factory.mktemp("fuzz") / "db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE scratch(x)")
    conn.execute("CREATE TABLE steady(n)")
    conn.commit()
    conn.close()
    server = start_server(db, "--statement-timeout", "500ms", "--max-connections", "500")
    yield server
    if server.process.poll() is None:
        server.kill()


@pytest.fixture(scope="module")
def steady_client(fuzzed_server: ServerProcess) -> Iterator[list[str]]:
    """A well-behaved client inserting and reading back all along; collects failures."""
    failures: list[str] = []
    stop = threading.Event()

    def work() -> None:
        n = 0
        try:
            with squall.sqlite.connect("127.0.0.1", fuzzed_server.port, timeout=60) as db:
                while not stop.is_set():
                    n += 1
                    db.execute("INSERT INTO steady VALUES (?)", [n])
                    count = db.execute("SELECT count(*) FROM steady").rows[0][0]
                    if count != n:
                        failures.append(f"expected {n} rows, saw {count!r}")
        except SqliteServerError as exc:
            failures.append(str(exc))

    thread = threading.Thread(target=work)
    thread.start()
    yield failures
    stop.set()
    thread.join(30)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=st.lists(chunks, max_size=8), read_answers=st.booleans())
def test_fuzzed_sessions_never_hurt_the_server(
    fuzzed_server: ServerProcess,
    steady_client: list[str],
    script: list[bytes],
    read_answers: bool,
) -> None:
    sock = socket.create_connection(("127.0.0.1", fuzzed_server.port), timeout=10)
    try:
        for chunk in script:
            sock.sendall(chunk)
        if read_answers:
            sock.settimeout(0.05)
            try:
                while sock.recv(65536):
                    pass
            except TimeoutError:
                pass
    except OSError:
        pass  # the server may close a session it gave up on (e.g. failed auth)
    finally:
        sock.close()  # often in the middle of a statement or a transaction
    assert fuzzed_server.process.poll() is None
    assert steady_client == []


def test_after_the_fuzz(fuzzed_server: ServerProcess, steady_client: list[str]) -> None:
    """Still serving, still consistent, and a flood of over-long input costs no memory."""
    before = _rss_kib(fuzzed_server.process.pid)
    flood = Telnet(fuzzed_server.port)
    flood.read_until(b"sqlite> ")
    block = b"y" * (1 << 20)
    for _ in range(64):  # 64 MiB in one line
        flood.send(block)
    flood.send(b"\nselect 'alive';\n")
    answer = flood.read_until(b"alive\nsqlite> ", timeout=30)
    assert answer.startswith(b"Error: line longer than 1048576 bytes; ignored\n")
    assert _rss_kib(fuzzed_server.process.pid) - before < 16 * 1024
    with squall.sqlite.connect("127.0.0.1", fuzzed_server.port) as db:
        assert db.execute("PRAGMA integrity_check").rows == [("ok",)]
    assert steady_client == []
    assert fuzzed_server.terminate() == 0
