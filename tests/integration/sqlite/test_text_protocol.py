"""The seed's session, typed over a raw socket, against the real sqlite3 shell."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.sqlite.conftest import ServerProcess, Telnet, sqlite_cli

BANNER = (
    f'SQLite version {sqlite3.sqlite_version} (squall server)\nEnter ".help" for usage hints.\n'
).encode()
PROMPT = b"sqlite> "

MIXED = """
CREATE TABLE t1(c1 text);
INSERT INTO t1 VALUES ('test');
CREATE TABLE mixed(i, r, t, b, n);
INSERT INTO mixed VALUES (1, 1.5, 'x|y', x'41ff42', NULL);
INSERT INTO mixed VALUES (-9223372036854775808, 1e300, 'line
two', x'00ff41', NULL);
INSERT INTO mixed VALUES (9223372036854775807, 0.1, '', x'', 3.0);
INSERT INTO mixed VALUES (0, 1e-7, 'ünï ✓', 'a' || char(0) || 'b', 100.0);
INSERT INTO mixed VALUES (42, 2.5e15, '  spaced  ', x'0a0d09', 1.0/3);
INSERT INTO mixed VALUES (NULL, -0.0, 'quote''s "dq"', cast(x'ff' as text), 1e16);
INSERT INTO mixed VALUES (7, 123456789.123, 'tab	tab', x'e29c93', -2.5e-300);
"""


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    db = tmp_path / "db"
    sqlite_cli(db, MIXED)
    return db


def test_seed_session_matches_sqlite3_list_mode_byte_for_byte(
    seeded: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory(seeded)
    client = Telnet(server.port)
    assert client.read_until(PROMPT) == BANNER + PROMPT
    for query in ("select * from t1;", "select * from mixed;", "select * from mixed order by r;"):
        client.send(query.encode() + b"\r\n")  # telnet sends CR LF
        expected = sqlite_cli(seeded, query + "\n")
        assert client.read_until(PROMPT) == expected + PROMPT
    client.close()


@pytest.mark.parametrize(
    "settings",
    [".headers on", ".mode csv", ".mode csv\n.headers on", ".mode quote", ".mode line"],
)
def test_other_modes_match_sqlite3(
    seeded: Path, server_factory: Callable[..., ServerProcess], settings: str
) -> None:
    server = server_factory(seeded)
    client = Telnet(server.port)
    client.read_until(PROMPT)
    client.send(b'.prompt ""\n' + settings.encode() + b"\nselect i, t, b, n from mixed;\n.quit\n")
    expected = sqlite_cli(seeded, settings + "\nselect i, t, b, n from mixed;\n")
    assert client.read_all() == expected


@pytest.mark.parametrize(
    "script",
    [
        ".mode quote\nselect 1e999, -1e999, 0.5;",
        ".mode json\nselect 1e999 as a, -1e999 as b;",
        ".headers off\n.mode column\nselect 1 as longname, 2 as b;",
        ".mode column\nselect 1 as longname, 'x' as b;",
    ],
)
def test_edge_cases_match_sqlite3(
    seeded: Path, server_factory: Callable[..., ServerProcess], script: str
) -> None:
    """Infinity in quote and json modes; `.headers off` kept by `.mode column`; column
    widths sized by the names even when they are not shown."""
    server = server_factory(seeded)
    client = Telnet(server.port)
    client.read_until(PROMPT)
    client.send(b'.prompt ""\n' + script.encode() + b"\n.quit\n")
    assert client.read_all() == sqlite_cli(seeded, script + "\n")


def test_schema_of_views_matches_sqlite3(
    seeded: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory(seeded)
    client = Telnet(server.port)
    client.read_until(PROMPT)
    client.send(
        b'.prompt ""\ncreate view v1 as select * from mixed;\n'
        b'create view "my view"(x) as select i from mixed;\n.schema\n.quit\n'
    )
    assert client.read_all() == sqlite_cli(seeded, ".schema\n")


def test_json_and_column_modes(seeded: Path, server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(seeded)
    client = Telnet(server.port)
    client.read_until(PROMPT)
    script = (
        ".mode json\nselect i, t, n from mixed where i in (1, 42);\n"
        ".mode column\nselect 1 as x, 'abc' as yy;\n"
    )
    client.send(b'.prompt ""\n' + script.encode() + b".quit\n")
    expected = sqlite_cli(seeded, script)
    assert client.read_all() == expected


def test_lines_statements_and_errors(
    seeded: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory(seeded)
    client = Telnet(server.port)
    client.read_until(PROMPT)
    # A statement over three lines, CR LF and LF mixed: continuation prompts, then rows.
    client.send(b"select c1,\r\n")
    assert client.read_until(b"> ") == b"   ...> "
    client.send(b"'a;b'\n")
    assert client.read_until(b"> ") == b"   ...> "
    client.send(b"from t1;\n")
    assert client.read_until(PROMPT) == b"test|a;b\n" + PROMPT
    # Several statements on one line all run, in order.
    client.send(b"select 1; select 2;select 3;\n")
    assert client.read_until(PROMPT) == b"1\n2\n3\n" + PROMPT
    # An error is one line and the session goes on; statements after it are skipped.
    client.send(b"selec 1; select 2;\n")
    assert client.read_until(PROMPT) == b'Error: near "selec": syntax error\n' + PROMPT
    client.send(b"select count(*) from t1;\n")
    assert client.read_until(PROMPT) == b"1\n" + PROMPT
    # Blank lines and comments only prompt again; dot-commands answer.
    client.send(b"\n-- nothing\n.tables\n")
    assert client.read_until(b"t1") == PROMPT + PROMPT + b"mixed  t1"
    client.read_until(PROMPT)
    client.send(b".schema t1\n")
    assert client.read_until(PROMPT) == b"CREATE TABLE t1(c1 text);\n" + PROMPT
    client.send(b".bogus\n")
    assert client.read_until(PROMPT).startswith(
        b'Error: unknown command or invalid arguments:  "bogus"'
    )
    client.send(b".quit\n")
    assert client.read_all() == b""


def test_transaction_across_lines_and_disconnect_rolls_back(
    seeded: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory(seeded)
    first = Telnet(server.port)
    first.read_until(PROMPT)
    first.send(b"begin;\ninsert into t1 values ('kept');\ncommit;\n")
    first.read_until(PROMPT + PROMPT + PROMPT)
    first.send(b"begin;\ninsert into t1 values ('lost');\n")
    first.read_until(PROMPT + PROMPT)
    first.close()  # disconnect inside the transaction
    second = Telnet(server.port)
    second.read_until(PROMPT)
    second.send(b"select c1 from t1 order by rowid;\n")  # waits for the rollback, then reads
    assert second.read_until(PROMPT) == b"test\nkept\n" + PROMPT
    second.send(b"insert into t1 values ('after');\nselect count(*) from t1;\n")
    assert second.read_until(b"3\n" + PROMPT).endswith(b"3\n" + PROMPT)


def test_over_long_line_is_refused_and_session_goes_on(
    seeded: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory(seeded)
    client = Telnet(server.port)
    client.read_until(PROMPT)
    client.send(b"select '" + b"x" * (3 << 20) + b"';\nselect 5;\n")
    answer = client.read_until(b"5\n" + PROMPT, timeout=30)
    assert answer == b"Error: line longer than 1048576 bytes; ignored\n" + PROMPT + b"5\n" + PROMPT


def test_sigterm_finishes_checkpoints_and_exits_zero(
    seeded: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory(seeded)
    client = Telnet(server.port)
    client.read_until(PROMPT)
    client.send(b"insert into t1 values ('before term');\n")
    client.read_until(PROMPT)
    wal = seeded.with_name(seeded.name + "-wal")
    assert wal.stat().st_size > 0
    assert server.terminate() == 0
    assert client.read_all() == b""
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed into the file
    assert sqlite_cli(seeded, "select count(*) from t1;") == b"2\n"


def test_piped_script_until_end_of_input_like_sqlite3(
    seeded: Path, tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    """`nc host port < script.sql`: the same output as `sqlite3 db < script.sql`."""
    script = (
        "insert into t1 values ('a'), ('b');\nselect count(*) from t1;\n"
        "update t1 set c1 = upper(c1) where c1 in ('a', 'b');\n"
        "select * from t1\n order by 1;\nselect 'no newline, no semicolon'"
    )
    copy = tmp_path / "copy"
    copy.write_bytes(seeded.read_bytes())
    expected = sqlite_cli(copy, script)
    server = server_factory(seeded)
    client = Telnet(server.port)
    client.read_until(PROMPT)
    client.send(b'.prompt ""\n' + script.encode())
    client.sock.shutdown(socket.SHUT_WR)
    assert client.read_all() == expected
