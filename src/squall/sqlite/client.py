"""A small blocking Python client for the server (its JSON-lines protocol).

    with squall.sqlite.connect("127.0.0.1", 12345) as db:
        db.execute("INSERT INTO t1 VALUES (?)", ["x"])
        rows = db.execute("SELECT * FROM t1").rows

Values come back typed: int, float, str, bytes (BLOB) or None. One `Connection` is one
session on the server: `BEGIN` ... `COMMIT` span calls; closing the connection rolls
back an open transaction. Not safe to share between threads.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from squall.errors import SqliteQueryError, SqliteServerError
from squall.sqlite import _wire

Value = int | float | str | bytes | None
Params = Sequence[Value] | Mapping[str, Value]
PIPELINE_WINDOW = 64


@dataclass(frozen=True)
class Result:
    """One statement's answer.

    Attributes:
        columns: column names (empty for statements that return no rows).
        rows: the rows, each a tuple of values.
        rowcount: rows changed by INSERT/UPDATE/DELETE, else -1.
        lastrowid: rowid of the last inserted row on the server's connection.
        truncated: the server cut the rows at its --max-rows.
    """

    columns: tuple[str, ...]
    rows: list[tuple[Value, ...]]
    rowcount: int
    lastrowid: int | None
    truncated: bool = False


class Connection:
    """One session with a SQLite server; make it with `connect()`."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._reader = sock.makefile("rb")
        self.in_transaction = False

    def execute(self, sql: str, params: Params = ()) -> Result:
        """Run `sql` (several statements run in order; the last one's result returns).

        Raises:
            SqliteQueryError: SQLite refused the statement (`code` says why).
            SqliteServerError: the connection failed.
        """
        return _result(self._ask({"sql": sql, "params": params} if params else {"sql": sql}))

    def executemany(self, sql: str, seq_of_params: Iterable[Params]) -> list[Result]:
        """Run one statement once per parameter set, pipelined: requests go out without
        waiting for each answer (at most `PIPELINE_WINDOW` unanswered), so a thousand
        inserts cost little more than the server's work. Each runs on its own (inside
        the session's transaction if one is open). All answers are read even after a
        failure; then the first failure is raised.

        Raises:
            SqliteQueryError: a statement failed (the others still ran).
            SqliteServerError: the connection failed.
        """
        answers: list[dict[str, Any] | SqliteQueryError] = []
        in_flight = 0
        for params in seq_of_params:
            if in_flight == PIPELINE_WINDOW:
                answers.append(self._answer_or_error())
                in_flight -= 1
            self._send({"sql": sql, "params": params})
            in_flight += 1
        for _ in range(in_flight):
            answers.append(self._answer_or_error())
        for answer in answers:
            if isinstance(answer, SqliteQueryError):
                raise answer
        return [_result(answer) for answer in answers if not isinstance(answer, Exception)]

    def text(self, sql: str) -> str:
        """Run `sql` or a dot-command and return the text the server prints for it
        (in the session's `.mode` and `.headers`), as a terminal user would see it.

        Raises:
            SqliteQueryError: SQLite refused a statement or the dot-command failed; the
                text printed before the failure is in its `output`.
            SqliteServerError: the connection failed.
        """
        answer = self._ask({"sql": sql, "text": True})
        text: str = answer["text"]
        return text

    def close(self) -> None:
        """End the session (the server rolls back an open transaction)."""
        try:
            self._reader.close()
        finally:
            self._sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        self._send(request)
        return self._answer()

    def _send(self, request: dict[str, Any]) -> None:
        try:
            self._sock.sendall(_wire.encode(request))
        except TypeError as exc:
            raise SqliteServerError(f"cannot send these parameters: {exc}") from exc
        except OSError as exc:
            raise SqliteServerError(f"connection to the SQLite server failed: {exc}") from exc

    def _answer_or_error(self) -> dict[str, Any] | SqliteQueryError:
        try:
            return self._answer()
        except SqliteQueryError as exc:
            return exc

    def _answer(self) -> dict[str, Any]:
        try:
            line = self._reader.readline()
        except OSError as exc:
            raise SqliteServerError(f"connection to the SQLite server failed: {exc}") from exc
        if not line:
            raise SqliteServerError("the SQLite server closed the connection")
        answer: dict[str, Any] = _wire.decode(line)
        self.in_transaction = bool(answer.get("tx", False))
        if not answer.get("ok"):
            raise SqliteQueryError(
                answer.get("error", "unknown error"), answer.get("code"), answer.get("text", "")
            )
        return answer


def _result(answer: dict[str, Any]) -> Result:
    return Result(
        tuple(answer["columns"]),
        [tuple(row) for row in answer["rows"]],
        answer["rowcount"],
        answer["lastrowid"],
        bool(answer.get("truncated", False)),
    )


def connect(host: str, port: int, *, token: str | None = None, timeout: float = 30.0) -> Connection:
    """Open a session on the SQLite server at `host`:`port`.

    Args:
        host, port: where the server listens.
        token: the server's token, for servers started with --token-file.
        timeout: seconds to wait for the connection and for each answer.

    Raises:
        SqliteServerError: no server answers, or it refused the session or the token.
    """
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise SqliteServerError(f"cannot connect to {host}:{port}: {exc}") from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = Connection(sock)
    try:
        sock.sendall(_wire.HANDSHAKE.encode() + b"\n")
        answer = _greeting(conn, f"{host}:{port}")
        if token is not None and answer.get("auth"):
            conn._ask({"auth": token})
    except (SqliteServerError, OSError, ValueError) as exc:
        conn.close()
        if isinstance(exc, SqliteServerError):
            raise
        raise SqliteServerError(f"{host}:{port} does not speak the squall protocol: {exc}") from exc
    return conn


def _greeting(conn: Connection, where: str) -> dict[str, Any]:
    """Read the text banner; the answer to the handshake follows the first prompt."""
    prompt = b"sqlite> "
    while True:
        line = conn._reader.readline()
        if not line:
            raise SqliteServerError(f"{where} closed the connection during the greeting")
        if line.startswith(b"Error: "):
            raise SqliteServerError(line[7:].decode("utf-8", "replace").strip())
        if line.startswith(prompt):
            answer: dict[str, Any] = _wire.decode(line[len(prompt) :])
            return answer
