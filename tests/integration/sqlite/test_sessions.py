"""Every session behaves like its own sqlite3 shell: the same statements through a server
session and through /usr/bin/sqlite3 on a copy of the same database print the same bytes.

sqlite3 reads the statements from a pipe, so it writes errors to stderr with the input
line (`Runtime error near line 3: MSG (19)`); `as_server_errors` writes them as the
server does (`Error: MSG`), in place. Everything else is compared as printed.
Both sides start with the same busy timeout (`.timeout 5000`): the server's default
is to wait 60 s for another session's transaction, the shell's is not to wait at all.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from squall.sqlite.config import ServerConfig
from tests.integration.sqlite.conftest import (
    ShellProcess,
    Telnet,
    serving,
    session_output,
    shell_output,
)

PRELUDE = ".timeout 5000\n"
SCHEMA = """
PRAGMA journal_mode=WAL;
CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT);
CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT UNIQUE);
CREATE TABLE c(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id) ON DELETE CASCADE);
CREATE TABLE log(n INTEGER);
CREATE TRIGGER p_log AFTER INSERT ON p BEGIN INSERT INTO log VALUES (new.id); END;
CREATE TRIGGER t_again AFTER UPDATE OF a ON t BEGIN UPDATE t SET a = new.a WHERE id = new.id; END;
INSERT INTO t VALUES (1, 10, 'x'), (2, 20, 'y'), (3, 30, 'Z');
INSERT INTO p VALUES (1, 'one'), (2, 'Two');
INSERT INTO c VALUES (1, 1), (2, 2);
"""

READS = [
    "select * from t order by id;",
    "select changes(), last_insert_rowid(), total_changes();",
    "select count(*), sum(a) from t;",
    "select * from tt;",
    "select * from tv;",
    "select count(*) from c;",
    "select * from log;",
    "select name from p where name like 'two';",
    "select 1/0, 'done';",
    "pragma foreign_keys;",
    "pragma defer_foreign_keys;",
    "pragma recursive_triggers;",
    "pragma query_only;",
    "pragma cache_size;",
    "pragma busy_timeout;",
    "pragma temp_store;",
    "pragma journal_mode;",
    ".tables",
    ".schema tt",
]
TEMP = [
    "create temp table tt(x);",
    "drop table tt;",
    "create temp view tv as select a, b from t where a > 1;",
    "drop view tv;",
    "create temp trigger tr after insert on t begin insert into tt values (new.a); end;",
    "drop trigger tr;",
]
SETTINGS = [
    "pragma foreign_keys = on;",
    "pragma foreign_keys = off;",
    "pragma case_sensitive_like = on;",
    "pragma case_sensitive_like = off;",
    "pragma query_only = on;",
    "pragma query_only = off;",
    ".headers on",
    ".headers off",
]
WRITES = [
    "create table u(x);",
    "drop table u;",
    "insert into u values (1);",
    "create index ti on t(a);",
    "drop index ti;",
    "update t set a = 7 where id = 1;",  # t_again recurses with recursive_triggers on
    "insert into nosuch values (1);",
    "selec 1;",
]
TRANSACTIONS = [
    "begin;",
    "commit;",
    "rollback;",
    "savepoint s1;",
    "savepoint s2;",
    "release s1;",
    "release s2;",
    "rollback to s1;",
    "rollback to s2;",
]
ONE_SESSION_ONLY = [
    "pragma defer_foreign_keys = on;",
    "pragma recursive_triggers = on;",
    "pragma recursive_triggers = off;",
    "vacuum;",
]

N = st.integers(min_value=0, max_value=5)
numbered_writes = st.one_of(
    N.map(lambda n: f"insert into t(a, b) values ({n}, 'w{n}');"),
    N.map(lambda n: f"update t set a = a + 1 where id <= {n};"),
    N.map(lambda n: f"delete from t where id = {n};"),
    N.map(lambda n: f"replace into t(id, a) values ({n}, {n});"),
    N.map(lambda n: f"insert into p(name) values ('n{n}');"),
    N.map(lambda n: f"delete from p where id = {n};"),
    N.map(lambda n: f"insert into c(pid) values ({n});"),
)
numbered_own = st.one_of(
    N.map(lambda n: f"insert into tt values ({n});"),
    N.map(lambda n: f"pragma cache_size = {n * 100};"),
    N.map(lambda n: f"pragma busy_timeout = {n * 50};"),
)
reads = st.sampled_from(READS)
own = st.one_of(reads, st.sampled_from(TEMP + SETTINGS), numbered_own)
autocommit = st.one_of(own, st.sampled_from(WRITES), numbered_writes)
anything = st.one_of(autocommit, st.sampled_from(TRANSACTIONS + ONE_SESSION_ONLY))


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seed") / "seed.db"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.close()
    return path


@pytest.fixture
def copies(seed: Path, tmp_path: Path) -> Iterator[Callable[[], tuple[Path, Path]]]:
    """Fresh copies of the seed: one for the server, one for sqlite3."""
    made = 0

    def copy() -> tuple[Path, Path]:
        nonlocal made
        made += 1
        pair = (tmp_path / f"server-{made}.db", tmp_path / f"shell-{made}.db")
        for path in pair:
            shutil.copyfile(seed, path)
        return pair

    yield copy


def _through_server(db: Path, script: str) -> bytes:
    with serving(ServerConfig(db=db, port=0)) as port:
        return session_output(port, script)


ISSUE_TABLE = [
    (
        "create table n(a); insert into n values (5); select changes(), last_insert_rowid();",
        b"1|1\n",
    ),
    ("create temp table tt(a); insert into tt values (1); select * from tt;", b"1\n"),
    ("pragma foreign_keys=on; pragma foreign_keys;", b"1\n"),
    (
        "insert into t(a) values (1); insert into t(a) values (2), (3); select total_changes();",
        b"3\n",
    ),
]


@pytest.mark.parametrize(("statements", "printed"), ISSUE_TABLE)
def test_the_issue_table_answers_as_sqlite3(
    copies: Callable[[], tuple[Path, Path]], statements: str, printed: bytes
) -> None:
    """Each row of issue 16: the server prints what sqlite3 prints, in a session that
    another session's writes do not disturb."""
    server_db, shell_db = copies()
    assert shell_output(shell_db, statements) == printed
    with serving(ServerConfig(db=server_db, port=0)) as port:
        other = Telnet(port)
        other.read_until(b"sqlite> ")
        other.send(b"insert into t(a) values (9); create temp table tt(z);\n")
        assert other.read_until(b"sqlite> ") == b"sqlite> "
        assert session_output(port, statements) == printed
        other.send(b"select total_changes(), last_insert_rowid();\n")  # its own, still
        assert other.read_until(b"sqlite> ") == b"1|4\nsqlite> "
        other.close()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(statements=st.lists(anything, min_size=1, max_size=30))
def test_a_session_prints_what_sqlite3_prints(
    copies: Callable[[], tuple[Path, Path]], statements: list[str]
) -> None:
    server_db, shell_db = copies()
    script = PRELUDE + "\n".join(statements) + "\n"
    assert _through_server(server_db, script) == shell_output(shell_db, script)


@st.composite
def interleavings(draw: st.DrawFn) -> list[tuple[int, str]]:
    """Steps of two sessions. One transaction at a time, and while one is open the
    other session only reads and changes what is its own: a shell there would fail at
    once with "database is locked" where a server session waits its turn."""
    steps: list[tuple[int, str]] = []
    open_by: int | None = None
    for _ in range(draw(st.integers(min_value=2, max_value=30))):
        who = draw(st.integers(min_value=0, max_value=1))
        if open_by is None and draw(st.integers(min_value=0, max_value=5)) == 0:
            open_by = who
            steps.append((who, "begin;"))
        elif open_by is None:
            steps.append((who, draw(autocommit)))
        elif who != open_by:
            steps.append((who, draw(own)))
        elif draw(st.integers(min_value=0, max_value=4)) == 0:
            steps.append((who, draw(st.sampled_from(["commit;", "rollback;"]))))
            open_by = None
        else:
            savepoints = st.sampled_from(TRANSACTIONS[3:])
            steps.append((who, draw(st.one_of(autocommit, savepoints))))
    if open_by is not None:
        steps.append((open_by, "commit;"))
    return steps


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=interleavings())
def test_two_interleaved_sessions_print_what_two_sqlite3_processes_print(
    copies: Callable[[], tuple[Path, Path]], steps: list[tuple[int, str]]
) -> None:
    server_db, shell_db = copies()
    shells = [ShellProcess(shell_db), ShellProcess(shell_db)]
    with serving(ServerConfig(db=server_db, port=0)) as port:
        sessions = [Telnet(port), Telnet(port)]
        printed = [b"", b""]
        for session in sessions:
            session.read_until(b"sqlite> ")
            session.send(b'.prompt ""\n')
        for n, (who, text) in enumerate([(0, PRELUDE), (1, PRELUDE), *steps]):
            marker = f"mark-{n}"
            shells[who].step(text, marker)
            sessions[who].send(f"{text}\nselect '{marker}';\n".encode())
            printed[who] += sessions[who].read_until(f"{marker}\n".encode())
        for session in sessions:
            session.close()
    assert printed == [shell.close() for shell in shells]


def test_what_a_session_keeps_for_itself_never_waits_for_another_transaction(
    copies: Callable[[], tuple[Path, Path]],
) -> None:
    """While one session holds the write lock, another one's reads, temp objects and
    settings answer at once (with no wait allowed at all: `.timeout 0`)."""
    server_db, _ = copies()
    with serving(ServerConfig(db=server_db, port=0)) as port:
        holder, other = Telnet(port), Telnet(port)
        for session in (holder, other):
            session.read_until(b"sqlite> ")
            session.send(b'.prompt ""\n.timeout 0\n')
        holder.send(b"begin; insert into t(a) values (99); select 'holding';\n")
        assert holder.read_until(b"holding\n") == b"holding\n"
        other.send(
            b"create temp table mine(x); insert into mine values (1), (2);"
            b" create temp trigger tr after insert on t begin select 1; end;"
            b" pragma foreign_keys = on; select changes(), count(*) from mine;"
            b" select count(*) from t; insert into t(a) values (1);\n"
        )
        assert other.read_until(b"wait)\n") == (
            b"2|2\n3\nError: database is locked: waited 0 ms for another session's"
            b" transaction (.timeout MS sets the wait)\n"
        )
        holder.send(b"commit;\n")
        other.send(b".timeout 5000\ninsert into t(a) values (1); select count(*) from t;\n")
        assert other.read_until(b"5\n") == b"5\n"
        holder.close()
        other.close()
