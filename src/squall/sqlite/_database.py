"""SQLite connections as the server opens them, and one statement run on one of them.

Two kinds of connection: each session's own (`open_session`), guarded by its `Guard`,
and the engine's keeper (`open_keeper`), which creates the file, puts it in WAL mode,
checkpoints it and holds it open for the server's lifetime (so a session's connection
closing is never the last one, which would checkpoint in the event loop).
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from squall.errors import SqliteServerError
from squall.sqlite._guard import READ_ONLY_MESSAGE, Guard

Params = Sequence[object] | Mapping[str, object]

# A statement run right in the event loop is interrupted after this long and run again
# on a thread (interrupted, it changed nothing: SQLite rolls the statement back).
INLINE_BUDGET = 0.002
# How long a statement on a thread waits for another process that holds the file's
# lock; in the event loop a connection never waits.
OTHER_PROCESS_WAIT_MS = 5000
_LOCKED = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})
_CACHED_STATEMENTS = 128


def _decode_text(raw: bytes) -> str:
    """TEXT that is not valid UTF-8 still comes through (as surrogates), as in the shell."""
    return raw.decode("utf-8", "surrogateescape")


@dataclass(slots=True)
class Result:
    """What one statement returned."""

    columns: tuple[str, ...]
    rows: list[tuple[object, ...]]
    rowcount: int
    lastrowid: int | None
    truncated: bool = False


@dataclass(slots=True)
class Failure:
    """Why one statement failed: the message a client sees and SQLite's error name."""

    message: str
    code: str | None = None


Outcome = Result | Failure


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    """A connection that never waits for a lock on its own (busy timeout 0) and never
    checkpoints on its own: in the event loop neither may stall the server.

    Raises:
        sqlite3.Error: as SQLite reports it.
    """
    target: str | Path = path
    if read_only:  # mode=ro: it cannot write even if a check were missed
        target = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
    conn = sqlite3.connect(
        target,
        timeout=0,
        uri=read_only,
        isolation_level=None,
        check_same_thread=False,
        cached_statements=_CACHED_STATEMENTS,
    )
    conn.text_factory = _decode_text
    if not read_only:
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def open_keeper(path: Path, *, read_only: bool) -> sqlite3.Connection:
    """The engine's own connection: creates the file (unless read-only) in WAL mode.

    Raises:
        SqliteServerError: the file cannot be opened as asked or put in WAL mode.
    """
    how = "reading" if read_only else "writing"
    try:
        conn = _connect(path, read_only=read_only)
        if read_only:
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
            return conn
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    except sqlite3.Error as exc:
        raise SqliteServerError(f"cannot open {path} for {how}: {exc}") from exc
    if mode != "wal":
        conn.close()
        raise SqliteServerError(f"cannot put {path} in WAL mode (journal_mode is {mode})")
    return conn


def open_session(path: Path, guard: Guard) -> sqlite3.Connection:
    """One session's own connection, guarded by `guard`.

    Raises:
        SqliteServerError: the file cannot be opened.
    """
    try:
        conn = _connect(path, read_only=guard.read_only)
    except sqlite3.Error as exc:
        raise SqliteServerError(f"cannot open {path}: {exc}") from exc
    guard.install(conn)
    return conn


def run(
    conn: sqlite3.Connection,
    sql: str,
    params: Params,
    max_rows: int | None,
) -> Result:
    """Run one statement and fetch its rows (at most `max_rows`, then `truncated`).

    Raises:
        sqlite3.Error: as SQLite reports it; see `failure()`.
        ValueError, OverflowError: a parameter or the text cannot be given to SQLite.
    """
    cursor = conn.execute(sql, params)
    try:
        description = cursor.description
        if description is None:
            return Result((), [], cursor.rowcount, cursor.lastrowid)
        columns = tuple([d[0] for d in description])
        if max_rows is None:
            return Result(columns, cursor.fetchall(), -1, cursor.lastrowid)
        rows = cursor.fetchmany(max_rows + 1)
        truncated = len(rows) > max_rows
        return Result(columns, rows[:max_rows], -1, cursor.lastrowid, truncated)
    finally:
        cursor.close()


def try_on_thread(exc: Exception, guard: Guard) -> bool:
    """A statement run in the event loop that ran past its budget or found the file
    locked: it changed nothing, and a thread, which may wait, runs it again."""
    return guard.timed_out or getattr(exc, "sqlite_errorname", "") in _LOCKED


def failure(exc: Exception, guard: Guard, timeout: float) -> Failure:
    """The client's view of an exception raised by `run()` on the connection of `guard`."""
    if guard.denied:
        return Failure(f"not authorized: {guard.denied}", "SQLITE_AUTH")
    if guard.read_only_write:
        return Failure(READ_ONLY_MESSAGE, "SQLITE_READONLY")
    if guard.timed_out:
        return Failure(
            f"interrupted: statement ran longer than the {timeout:g}s statement timeout",
            "SQLITE_INTERRUPT",
        )
    code = getattr(exc, "sqlite_errorname", None)
    return Failure(str(exc), code)
