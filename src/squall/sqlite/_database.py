"""SQLite connections as the server uses them: opened safely, guarded, run one statement.

Every connection gets a `Guard`: its authorizer refuses what a network client must not
do (ATTACH, DETACH, VACUUM INTO a path, load_extension, pragmas that would change the
shared connections) and, on read-only connections, notes that a statement wants the
writer instead of failing it; its progress handler interrupts a statement past its
deadline. Readers open the file with `mode=ro`; the one writer puts it in WAL mode.
"""

from __future__ import annotations

import sqlite3
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from squall.errors import SqliteServerError

Params = Sequence[object] | Mapping[str, object]

_WRITE_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_INSERT,
        sqlite3.SQLITE_UPDATE,
        sqlite3.SQLITE_DELETE,
        sqlite3.SQLITE_CREATE_INDEX,
        sqlite3.SQLITE_CREATE_TABLE,
        sqlite3.SQLITE_CREATE_TEMP_INDEX,
        sqlite3.SQLITE_CREATE_TEMP_TABLE,
        sqlite3.SQLITE_CREATE_TEMP_TRIGGER,
        sqlite3.SQLITE_CREATE_TEMP_VIEW,
        sqlite3.SQLITE_CREATE_TRIGGER,
        sqlite3.SQLITE_CREATE_VIEW,
        sqlite3.SQLITE_CREATE_VTABLE,
        sqlite3.SQLITE_DROP_INDEX,
        sqlite3.SQLITE_DROP_TABLE,
        sqlite3.SQLITE_DROP_TEMP_INDEX,
        sqlite3.SQLITE_DROP_TEMP_TABLE,
        sqlite3.SQLITE_DROP_TEMP_TRIGGER,
        sqlite3.SQLITE_DROP_TEMP_VIEW,
        sqlite3.SQLITE_DROP_TRIGGER,
        sqlite3.SQLITE_DROP_VIEW,
        sqlite3.SQLITE_DROP_VTABLE,
        sqlite3.SQLITE_ALTER_TABLE,
        sqlite3.SQLITE_REINDEX,
        sqlite3.SQLITE_ANALYZE,
    }
)
# Statements that open, end or shape a transaction cannot share the writer's batch.
_SESSION_ACTIONS = frozenset({sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT})
# Pragmas that take an argument yet only read (table-valued pragmas).
_QUERY_PRAGMAS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "foreign_key_check",
        "integrity_check",
        "quick_check",
    }
)
# Pragmas that write the database file itself (not a connection setting).
_DATABASE_PRAGMAS = frozenset({"user_version", "application_id"})
# Pragmas that write (with or without an argument), so need the writer.
_WRITING_PRAGMAS = frozenset({"wal_checkpoint", "optimize", "incremental_vacuum"})

_PROGRESS_STEPS = 1000

# A statement run right in the event loop is interrupted after this long and run again
# on a thread (interrupted, it changed nothing: SQLite rolls the statement back).
INLINE_BUDGET = 0.002
# How long the writer's thread waits for another process that holds the file's write
# lock; in the event loop the writer never waits.
OTHER_PROCESS_WAIT_MS = 5000
_LOCKED = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})


def _decode_text(raw: bytes) -> str:
    """TEXT that is not valid UTF-8 still comes through (as surrogates), as in the shell."""
    return raw.decode("utf-8", "surrogateescape")


@dataclass
class Result:
    """What one statement returned."""

    columns: tuple[str, ...]
    rows: list[tuple[object, ...]]
    rowcount: int
    lastrowid: int | None
    truncated: bool = False


@dataclass
class Failure:
    """Why one statement failed: the message a client sees and SQLite's error name."""

    message: str
    code: str | None = None


Outcome = Result | Failure


class Guard:
    """Authorizer and progress handler of one connection, with what they saw."""

    def __init__(self, *, reader: bool) -> None:
        self.reader = reader
        self.needs_writer = False
        self.batchable = True
        self.denied: str | None = None
        self.deadline = 0.0
        self.timed_out = False
        self.trusted = False

    def reset(self, deadline: float, *, trusted: bool = False) -> None:
        """Forget the last statement; interrupt the next one at `deadline` (monotonic).

        `trusted` lets the server's own statements (savepoints, checkpoint) through.
        """
        self.needs_writer = False
        self.batchable = True
        self.denied = None
        self.deadline = deadline
        self.timed_out = False
        self.trusted = trusted

    def install(self, conn: sqlite3.Connection) -> None:
        """Attach this guard to `conn`."""
        conn.set_authorizer(self.authorize)
        conn.set_progress_handler(self.progress, _PROGRESS_STEPS)

    def authorize(
        self, action: int, arg1: str | None, arg2: str | None, _db: str | None, _src: str | None
    ) -> int:
        """SQLite's authorizer callback."""
        if self.trusted:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_ATTACH:
            if arg1:  # VACUUM attaches "" (a private temporary file); a path is refused
                return self._deny(f"ATTACH and VACUUM INTO are disabled on this server ({arg1!r})")
            self.batchable = False
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_DETACH:
            return self._deny("DETACH is disabled on this server")
        if action == sqlite3.SQLITE_FUNCTION and arg2 == "load_extension":
            return self._deny("load_extension is disabled on this server")
        if action == sqlite3.SQLITE_PRAGMA:
            return self._pragma((arg1 or "").lower(), arg2)
        if action in _SESSION_ACTIONS:
            self.batchable = False
            return self._want_writer()
        if action in _WRITE_ACTIONS:
            return self._want_writer()
        return sqlite3.SQLITE_OK

    def _pragma(self, name: str, argument: str | None) -> int:
        self.batchable = False
        if name in _WRITING_PRAGMAS:
            return self._want_writer()
        if argument is None or name in _QUERY_PRAGMAS:
            return sqlite3.SQLITE_OK
        if name in _DATABASE_PRAGMAS:
            return self._want_writer()
        return self._deny(f"PRAGMA {name} cannot be set here: the server's connections are shared")

    def _want_writer(self) -> int:
        if self.reader:
            self.needs_writer = True
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    def _deny(self, reason: str) -> int:
        self.denied = reason
        return sqlite3.SQLITE_DENY

    def progress(self) -> int:
        """SQLite's progress handler: nonzero interrupts the running statement."""
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return 1
        return 0


def _configure(conn: sqlite3.Connection, guard: Guard) -> sqlite3.Connection:
    conn.text_factory = _decode_text
    guard.install(conn)
    return conn


def open_writer(path: Path) -> tuple[sqlite3.Connection, Guard]:
    """The one connection that writes: WAL journal, NORMAL sync, autocommit by default.

    It never waits for a lock on its own (busy timeout 0) and never checkpoints on its
    own: the `Writer` sets the wait on its thread and checkpoints there, so a write run
    in the event loop can neither block on another process nor stall on a checkpoint.

    Raises:
        SqliteServerError: the file cannot be opened or put in WAL mode.
    """
    try:
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=0")
        conn.execute("PRAGMA wal_autocheckpoint=0")
    except sqlite3.Error as exc:
        raise SqliteServerError(f"cannot open {path} for writing: {exc}") from exc
    if mode != "wal":
        conn.close()
        raise SqliteServerError(f"cannot put {path} in WAL mode (journal_mode is {mode})")
    guard = Guard(reader=False)
    return _configure(conn, guard), guard


def open_reader(
    path: Path, busy_timeout_ms: int = OTHER_PROCESS_WAIT_MS
) -> tuple[sqlite3.Connection, Guard]:
    """A read-only connection (`mode=ro`): it cannot write even if a check were missed.

    Raises:
        SqliteServerError: the file does not exist or cannot be read.
    """
    uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
    try:
        conn = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except sqlite3.Error as exc:
        raise SqliteServerError(f"cannot open {path} for reading: {exc}") from exc
    guard = Guard(reader=True)
    return _configure(conn, guard), guard


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
    if guard.timed_out:
        return Failure(
            f"interrupted: statement ran longer than the {timeout:g}s statement timeout",
            "SQLITE_INTERRUPT",
        )
    code = getattr(exc, "sqlite_errorname", None)
    return Failure(str(exc), code)
