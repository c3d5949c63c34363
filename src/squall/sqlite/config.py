"""The server's settings, and the parsing of the values its command lines take."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from squall.errors import SqliteServerError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


@dataclass(frozen=True)
class ServerConfig:
    """Everything `squall sqlite serve` can be told.

    Attributes:
        db: the SQLite file; created (in WAL mode) unless `read_only`.
        host, port: where to listen; loopback unless told otherwise.
        read_only: refuse every write; the file is opened read-only.
        token: when set, a client must send it (`.auth TOKEN`) before anything else.
        max_connections: sessions beyond this are told so and closed.
        statement_timeout: seconds one statement may run before it is interrupted.
        max_rows: rows returned per statement at most (then a note says so).
        idle_transaction_timeout: seconds a session may sit idle inside BEGIN before
            its transaction is rolled back (others are waiting for the writer).
        busy_timeout: seconds a write waits for another session's transaction before
            failing as locked (a session changes its own with `.timeout MS` or
            `PRAGMA busy_timeout = MS`).
        max_line_bytes: longest input line (and longest statement) accepted.
    """

    db: Path
    host: str = "127.0.0.1"
    port: int = 12345
    read_only: bool = False
    token: str | None = None
    max_connections: int = 100
    statement_timeout: float = 5.0
    max_rows: int | None = None
    idle_transaction_timeout: float = 30.0
    busy_timeout: float = 60.0
    max_line_bytes: int = 1 << 20


@dataclass(frozen=True)
class ServeOptions:
    """The values both command lines take (`squall sqlite serve` with click, and
    `python3 -m squall.sqlite.standalone` with the standard library only), as given."""

    db: Path
    host: str
    port: int
    read_only: bool
    token_file: Path | None
    max_connections: int
    statement_timeout: str
    max_rows: int | None

    def config(self) -> ServerConfig:
        """The server's settings from these values.

        Raises:
            SqliteServerError: a value is out of range or the token file is unreadable.
        """
        if self.max_connections < 1:
            raise SqliteServerError("--max-connections must be at least 1")
        if self.max_rows is not None and self.max_rows < 1:
            raise SqliteServerError("--max-rows must be at least 1")
        return ServerConfig(
            db=self.db,
            host=self.host,
            port=self.port,
            read_only=self.read_only,
            token=read_token(self.token_file) if self.token_file is not None else None,
            max_connections=self.max_connections,
            statement_timeout=parse_duration(self.statement_timeout),
            max_rows=self.max_rows,
        )


def parse_duration(text: str) -> float:
    """Seconds in `5s`, `250ms`, `1.5m`, `1h` or a bare number of seconds.

    Raises:
        SqliteServerError: the text is not a positive duration.
    """
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise SqliteServerError(f"not a duration: {text!r} (examples: 5s, 250ms, 1m)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def read_token(path: Path) -> str:
    """The token in `path` (surrounding whitespace removed).

    Raises:
        SqliteServerError: the file cannot be read or is empty.
    """
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SqliteServerError(f"cannot read token file {path}: {exc.strerror}") from exc
    if not token:
        raise SqliteServerError(f"token file {path} is empty")
    return token
