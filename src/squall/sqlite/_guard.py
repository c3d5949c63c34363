"""What a session's statement may do, decided by SQLite's authorizer as it compiles it.

Each session has its own connection, so everything that belongs to a connection is
the session's to change: temp tables, views and triggers, per-connection PRAGMAs
(`foreign_keys`, `recursive_triggers`, `cache_size`, ...), savepoints. What stays
refused is what reaches past the session: other files (ATTACH, VACUUM INTO),
extensions, and PRAGMAs that change the database for every session or that the server
owns (`journal_mode`, `page_size`, `wal_checkpoint`, `synchronous`, ...).

The authorizer also sorts statements for the write lock (see `_lock`): a statement that
writes the main database, or opens a transaction, needs the lock; without it, it is
stopped before it runs (SQLite calls the authorizer while it compiles, or, for VACUUM,
before its first change) and the session runs it again once it holds the lock. Writes
to the temp database are the session's own and need no lock.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

# Actions that write the database named in the authorizer's fourth argument (those that
# can only write the temp database, such as SQLITE_CREATE_TEMP_TABLE, are not here: every
# action without a rule is allowed).
_WRITES = frozenset(
    {
        sqlite3.SQLITE_INSERT,
        sqlite3.SQLITE_UPDATE,
        sqlite3.SQLITE_DELETE,
        sqlite3.SQLITE_CREATE_INDEX,
        sqlite3.SQLITE_CREATE_TABLE,
        sqlite3.SQLITE_CREATE_TRIGGER,
        sqlite3.SQLITE_CREATE_VIEW,
        sqlite3.SQLITE_CREATE_VTABLE,
        sqlite3.SQLITE_DROP_INDEX,
        sqlite3.SQLITE_DROP_TABLE,
        sqlite3.SQLITE_DROP_TRIGGER,
        sqlite3.SQLITE_DROP_VIEW,
        sqlite3.SQLITE_DROP_VTABLE,
        sqlite3.SQLITE_REINDEX,
        sqlite3.SQLITE_ANALYZE,
    }
)
_TRANSACTIONS = frozenset({sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT})

# Refused even to read: running them acts on the database.
_SERVER_ACTIONS = {"wal_checkpoint": "the server checkpoints the WAL itself"}
# Refused when given a value: they change the database file for every session, or a
# setting the server's guarantees rest on, or the whole process.
_SHARED_SETTINGS = {
    "journal_mode": "the server keeps the database in WAL mode",
    "synchronous": "the server's durability rests on it (NORMAL in WAL mode)",
    "wal_autocheckpoint": "the server checkpoints the WAL itself",
    "journal_size_limit": "the WAL belongs to every session",
    "locking_mode": "an exclusive lock would shut out every other session",
    "page_size": "it changes the database file for every session",
    "auto_vacuum": "it changes the database file for every session",
    "encoding": "it changes the database file for every session",
    "default_cache_size": "it changes the database file for every session",
    "schema_version": "it would corrupt every session's view of the schema",
    "writable_schema": "it allows corrupting the database file",
    "hard_heap_limit": "it limits the whole server process",
    "soft_heap_limit": "it limits the whole server process",
    "temp_store_directory": "it is process-wide",
    "data_store_directory": "it is process-wide",
}
# Pragmas that write the database file's content: they need the write lock.
_WRITING_WITH_VALUE = frozenset({"user_version", "application_id"})
_WRITING_ALWAYS = frozenset({"optimize", "incremental_vacuum"})

_PROGRESS_STEPS = 1000
READ_ONLY_MESSAGE = "attempt to write a readonly database (the server runs with --read-only)"


class Guard:
    """Authorizer and progress handler of one session's connection, with what they saw.

    `reset()` before each statement says whether the session holds the write lock;
    afterwards `wants_lock` tells that the statement was stopped for want of it,
    `took_lock` that it needed the lock and ran (so its text is remembered: SQLite
    reuses a compiled statement without asking the authorizer again), `busy_pragma`
    that it was `PRAGMA busy_timeout`, which the session answers itself.
    """

    def __init__(self, *, read_only: bool) -> None:
        self.read_only = read_only
        self.reset(0.0)

    def reset(self, deadline: float, *, locked: bool = False, trusted: bool = False) -> None:
        """Forget the last statement; interrupt the next one at `deadline` (monotonic).

        `locked`: the session holds the write lock. `trusted` lets the server's own
        statements (busy timeout, rollback) through.
        """
        self.locked = locked
        self.wants_lock = False
        self.took_lock = False
        self.denied: str | None = None
        self.read_only_write = False
        self.busy_pragma: tuple[str | None] | None = None
        self.deadline = deadline
        self.timed_out = False
        self.trusted = trusted

    def install(self, conn: sqlite3.Connection) -> None:
        """Attach this guard to `conn`; statements compiled before are checked again."""
        conn.set_authorizer(self.authorize)
        conn.set_progress_handler(self.progress, _PROGRESS_STEPS)

    def authorize(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, _src: str | None
    ) -> int:
        """SQLite's authorizer callback."""
        if self.trusted:
            return sqlite3.SQLITE_OK
        rule = _RULES.get(action)
        return sqlite3.SQLITE_OK if rule is None else rule(self, arg1, arg2, db)

    def _write(self, arg1: str | None, _arg2: str | None, db: str | None) -> int:
        if db == "temp" or arg1 == "sqlite_master":
            # The schema table is asked about where nothing is written to it (CREATE TEMP
            # TRIGGER on a main table, a pragma table's first use); what does write it
            # is a CREATE, DROP or ALTER, which its own action sends to the lock.
            return sqlite3.SQLITE_OK
        return self._main_write()

    def _alter(self, arg1: str | None, _arg2: str | None, _db: str | None) -> int:
        return sqlite3.SQLITE_OK if arg1 == "temp" else self._main_write()  # arg1: the database

    def _transaction(self, _arg1: str | None, _arg2: str | None, _db: str | None) -> int:
        return sqlite3.SQLITE_OK if self.read_only else self._lock_needed()

    def _attach(self, arg1: str | None, _arg2: str | None, _db: str | None) -> int:
        if arg1:  # VACUUM attaches "" (a private temporary file); a path is refused
            return self._deny(f"ATTACH and VACUUM INTO are disabled on this server ({arg1!r})")
        return self._main_write()

    def _detach(self, _arg1: str | None, _arg2: str | None, _db: str | None) -> int:
        return self._deny("DETACH is disabled on this server")

    def _function(self, _arg1: str | None, arg2: str | None, _db: str | None) -> int:
        if arg2 == "load_extension":
            return self._deny("load_extension is disabled on this server")
        return sqlite3.SQLITE_OK

    def _pragma_rule(self, arg1: str | None, arg2: str | None, db: str | None) -> int:
        return self._pragma((arg1 or "").lower(), arg2, db)

    def _pragma(self, name: str, value: str | None, db: str | None) -> int:
        if name == "busy_timeout":
            self.busy_pragma = (value,)
            return sqlite3.SQLITE_DENY
        refusal = _SERVER_ACTIONS.get(name)
        if refusal is None and value is not None:
            refusal = _SHARED_SETTINGS.get(name)
        if refusal is not None:
            return self._deny(f"PRAGMA {name} is not for a session to run: {refusal}")
        writes = name in _WRITING_ALWAYS or (value is not None and name in _WRITING_WITH_VALUE)
        if writes and db != "temp":
            return self._main_write()
        return sqlite3.SQLITE_OK

    def _main_write(self) -> int:
        if self.read_only:
            self.read_only_write = True
            return sqlite3.SQLITE_DENY
        return self._lock_needed()

    def _lock_needed(self) -> int:
        if self.locked:
            self.took_lock = True
            return sqlite3.SQLITE_OK
        self.wants_lock = True
        return sqlite3.SQLITE_DENY

    def _deny(self, reason: str) -> int:
        self.denied = reason
        return sqlite3.SQLITE_DENY

    def progress(self) -> int:
        """SQLite's progress handler: nonzero interrupts the running statement."""
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return 1
        return 0


_Rule = Callable[[Guard, str | None, str | None, str | None], int]
_RULES: dict[int, _Rule] = dict.fromkeys(_WRITES, Guard._write)
_RULES |= dict.fromkeys(_TRANSACTIONS, Guard._transaction)
_RULES |= {
    sqlite3.SQLITE_ALTER_TABLE: Guard._alter,
    sqlite3.SQLITE_ATTACH: Guard._attach,
    sqlite3.SQLITE_DETACH: Guard._detach,
    sqlite3.SQLITE_FUNCTION: Guard._function,
    sqlite3.SQLITE_PRAGMA: Guard._pragma_rule,
}
