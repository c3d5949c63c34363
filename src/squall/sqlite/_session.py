"""One client connection: lines in, statements run in order, answers out.

A session starts in text mode, like the sqlite3 shell on a terminal: banner, prompts,
results in the session's `.mode`, `Error: ...` lines. The line `.mode jsonl` turns it
into a JSON-lines session for programs (see `_wire`). Input is cut into lines (LF or
CR LF); in text mode lines are collected until SQLite says the statement is complete,
then every statement in them runs, one after the other, each waiting for the one
before (a write may wait for another session's transaction; a read answers at once),
on the session's own connection (see `_link`), so the session keeps what a sqlite3
shell keeps: temp objects, `changes()`, `last_insert_rowid()`, PRAGMAs, savepoints.

A line longer than the limit is answered with an error and thrown away as it arrives,
never held in memory; reading pauses while the client does not read its answers.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from squall.sqlite import _wire
from squall.sqlite._commands import Query, Reply, SessionSettings, dot_command
from squall.sqlite._database import Failure, Outcome, Params, Result
from squall.sqlite._engine import Engine
from squall.sqlite._output import render
from squall.sqlite._statements import has_content, split_statements
from squall.sqlite.config import ServerConfig

_TOO_LONG = b"\x00too long"  # a marker, never a real line: real lines are bytes objects
_MAX_QUEUED_LINES = 256
_FLUSH_BYTES = 1 << 16
_PARAM_TYPES = (list, dict, tuple)
_TX = {True: b"true", False: b"false"}


@dataclass
class _Request:
    """Statements from one complete input (text) or one JSON request, run in order."""

    statements: deque[str]
    params: Params = ()
    json: bool = False
    text: bool = True
    render: Callable[[Result], str] | None = None
    output: list[str] = field(default_factory=list)
    last: Result | None = None


class Session(asyncio.BufferedProtocol):
    """The protocol object of one TCP connection."""

    def __init__(
        self,
        config: ServerConfig,
        engine: Engine,
        admit: Callable[[Session], str | None],
        gone: Callable[[Session], None],
        read_buffer: memoryview,
    ) -> None:
        self._config = config
        self._read_buffer = read_buffer
        self._admit = admit
        self._gone = gone
        self._transport: asyncio.Transport | None = None
        self._settings = SessionSettings(authenticated=config.token is None)
        self._link = engine.attach(config.busy_timeout, self.transaction_rolled_back)
        self._jsonl = False
        self._partial = bytearray()
        self._discarding = False
        self._lines: deque[bytes] = deque()
        self._sql: list[str] = []
        self._sql_size = 0
        self._current: _Request | None = None
        self._waiting = False
        self._in_pump = False
        self._write_paused = False
        self._read_paused = False
        self._quitting = False
        self._eof = False
        self._closed = False
        self._notice: str | None = None
        self._out: list[bytes] = []
        self._out_size = 0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        refusal = self._admit(self)
        if refusal is not None:
            self._write(f"Error: {refusal}\n")
            self._flush()
            self._quitting = True
            transport.close()
            return
        banner = (
            f"SQLite version {sqlite3.sqlite_version} (squall server)\n"
            'Enter ".help" for usage hints.\n'
        )
        if not self._settings.authenticated:
            banner += "Authentication required: send .auth TOKEN\n"
        self._write(banner + self._settings.main_prompt)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._lines.clear()
        self._link.close()
        self._gone(self)

    def pause_writing(self) -> None:
        self._write_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._pump()

    def get_buffer(self, sizehint: int) -> memoryview:
        """Where the transport reads into: one buffer for every session, so a read
        allocates nothing (asyncio's own reads allocate 256 KiB each time, which the C
        library maps and unmaps: three system calls per request). `buffer_updated`
        copies what came before the next read."""
        return self._read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.received(bytes(self._read_buffer[:nbytes]))

    def received(self, data: bytes) -> None:
        """Bytes from the client."""
        if self._quitting:
            return
        if self._discarding:
            newline = data.find(b"\n")
            if newline < 0:
                return
            data = data[newline + 1 :]
            self._discarding = False
        limit = self._config.max_line_bytes
        if not self._partial and data.endswith(b"\n"):
            lines = data.split(b"\n")
            lines.pop()
        else:
            lines = (bytes(self._partial) + data).split(b"\n")
            self._partial = bytearray(lines.pop())
            if len(self._partial) > limit:
                self._partial = bytearray()
                self._discarding = True
                lines.append(_TOO_LONG)
        for line in lines:
            self._lines.append(_TOO_LONG if len(line) > limit else line)
        if len(self._lines) > _MAX_QUEUED_LINES:
            self._pause_reading()
        self._pump()

    def eof_received(self) -> bool | None:
        if self._partial and not self._discarding:  # a last line without its newline
            self._lines.append(bytes(self._partial))
            self._partial = bytearray()
        self._eof = True
        self._quitting = True
        self._pump()
        return True  # keep the transport open until the answers are written

    # Called by the link

    def transaction_rolled_back(self, reason: str) -> None:
        """The server rolled back this session's idle transaction."""
        if self._closed:
            return
        if self._jsonl:
            self._notice = reason  # the next request fails with it: the client must know
        else:
            self._write(f"\nError: {reason}\n{self._prompt()}")
            self._flush()

    # Used by the server

    def shut_down(self) -> None:
        """Stop reading; close once the statement in flight (if any) is answered."""
        self._lines.clear()
        self._quitting = True
        if self._current is not None:
            self._current.statements.clear()  # the one in flight, if any, still answers
        self._pump()

    def abort(self) -> None:
        """Drop the connection now (a client that does not read its answers)."""
        if self._transport is not None:
            self._transport.abort()

    # The work loop

    def _pump(self) -> None:
        if self._in_pump or self._closed:
            return
        self._in_pump = True
        try:
            while not self._waiting and not self._write_paused:
                request = self._current
                if request is not None:
                    if request.statements:
                        self._waiting = True
                        sql = request.statements.popleft()
                        self._link.execute(sql, request.params, self._deliver)
                    else:
                        self._current = None
                        self._finish(request)
                elif self._lines:
                    self._line(self._lines.popleft())
                elif self._eof and self._sql:  # end of input runs what is left, as sqlite3
                    self._run_sql("".join(self._sql))
                else:
                    break
        finally:
            self._in_pump = False
            self._flush()
        if self._read_paused and not self._write_paused and len(self._lines) < 16:
            self._read_paused = False
            assert self._transport is not None
            self._transport.resume_reading()
        if self._quitting and self._current is None and not self._waiting and not self._lines:
            self._close()

    def _deliver(self, outcome: Outcome) -> None:
        self._waiting = False
        request = self._current
        if self._closed or request is None:
            return
        if isinstance(outcome, Failure):
            request.statements.clear()
            self._current = None
            self._fail(request, outcome)
        else:
            request.last = outcome
            if request.text:
                text = (request.render or self._render)(outcome)
                if request.json:
                    request.output.append(text)
                elif text:
                    self._write(text)
        if not self._in_pump:
            self._pump()

    def _render(self, result: Result) -> str:
        text = render(self._settings.output, result.columns, result.rows)
        if result.truncated:
            text += f"Error: result cut at {self._config.max_rows} rows (--max-rows)\n"
        return text

    def _finish(self, request: _Request) -> None:
        if not request.json:
            self._write(self._prompt())
            return
        if request.text:
            tx = self._link.in_transaction
            self._send({"ok": True, "text": "".join(request.output), "tx": tx})
            return
        self._send_result(request.last or Result((), [], -1, None))

    def _answer(self, outcome: Outcome) -> None:
        """Deliver the outcome of a JSON request of one statement (no `_Request` needed)."""
        self._waiting = False
        if self._closed:
            return
        if isinstance(outcome, Failure):
            self._send_error(outcome.message, outcome.code)
        else:
            self._send_result(outcome)
        if not self._in_pump:
            self._pump()

    def _fail(self, request: _Request, failure: Failure) -> None:
        if request.json:
            self._send_error(failure.message, failure.code, "".join(request.output))
        else:
            self._write(f"Error: {failure.message}\n{self._prompt()}")

    # Input lines

    def _line(self, raw: bytes) -> None:
        if raw is _TOO_LONG:
            self._reject(f"line longer than {self._config.max_line_bytes} bytes; ignored")
            return
        try:
            line = raw.removesuffix(b"\r").decode("utf-8")
        except UnicodeDecodeError:
            self._reject("input is not valid UTF-8; line ignored")
            return
        if self._jsonl:
            self._json_line(line)
        elif not self._sql and line.startswith("."):
            self._dot(line, json=False)
        elif not self._sql and not has_content(line):
            self._write(self._prompt())
        elif not self._settings.authenticated:
            self._reject("authentication required: send .auth TOKEN")
        else:
            self._sql_line(line)

    def _sql_line(self, line: str) -> None:
        self._sql.append(line + "\n")
        self._sql_size += len(line) + 1
        if self._sql_size > self._config.max_line_bytes:
            self._reject(f"statement longer than {self._config.max_line_bytes} bytes; ignored")
            return
        text = "".join(self._sql)
        if not sqlite3.complete_statement(text):
            self._write(self._prompt())
            return
        self._run_sql(text)

    def _run_sql(self, text: str) -> None:
        self._reset_sql()
        self._current = _Request(deque(split_statements(text)))

    def _reject(self, message: str) -> None:
        """Answer a bad line with an error; a statement being collected is dropped."""
        self._reset_sql()
        if self._jsonl:
            self._send_error(message, None)
        else:
            self._write(f"Error: {message}\n{self._prompt()}")

    def _reset_sql(self) -> None:
        self._sql = []
        self._sql_size = 0

    def _prompt(self) -> str:
        return self._settings.more_prompt if self._sql else self._settings.main_prompt

    def _dot(self, line: str, json: bool) -> None:
        reply: Reply = dot_command(line, self._settings, self._config.token)
        if reply.busy_timeout is not None:
            self._link.busy_timeout = reply.busy_timeout
        if reply.jsonl:
            self._jsonl = True
            self._send({"ok": True, "mode": "jsonl", "auth": not self._settings.authenticated})
            return
        if reply.query is not None:
            self._query(reply.query, json)
            return
        if json:
            if reply.error is not None:
                self._send_error(reply.error, None)
            else:
                self._send({"ok": True, "text": reply.text, "tx": self._link.in_transaction})
        else:
            error = f"Error: {reply.error}\n" if reply.error is not None else ""
            self._write(reply.text + error + ("" if reply.quit else self._prompt()))
        if reply.quit:
            self._quitting = True
            self._lines.clear()

    def _query(self, query: Query, json: bool) -> None:
        self._current = _Request(deque([query.sql]), query.params, json=json, render=query.render)

    def _json_line(self, line: str) -> None:
        try:
            message = _wire.decode(line)
        except ValueError as exc:
            self._send_error(f"bad request: {exc}", None)
            return
        if not isinstance(message, dict):
            self._send_error("bad request: expected a JSON object", None)
            return
        if "auth" in message:
            self._dot(f".auth {_quote_word(str(message['auth']))}", json=True)
            return
        sql = message.get("sql")
        params = message.get("params", ())
        if type(sql) is not str:
            self._send_error('bad request: needs "sql" (a string) and optional "params"', None)
            return
        if type(params) not in _PARAM_TYPES:  # JSON gives list, dict or a scalar
            self._send_error('bad request: "params" must be a list or an object', None)
            return
        if sql.startswith("."):
            self._dot(sql, json=True)
            return
        if not self._settings.authenticated:
            self._send_error('authentication required: send {"auth": TOKEN}', "SQLITE_AUTH")
            return
        if self._notice is not None:
            notice, self._notice = self._notice, None
            self._send_error(notice, "SQLITE_ABORT")
            return
        statements = split_statements(sql)
        if params and len(statements) > 1:
            self._send_error("parameters can only be bound to a single statement", None)
            return
        if len(statements) == 1 and not message.get("text"):  # most requests
            self._waiting = True
            self._link.execute(statements[0], params, self._answer)
            return
        self._current = _Request(
            deque(statements), params, json=True, text=bool(message.get("text"))
        )

    # Output

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self._write_bytes(_wire.encode(message))
        except (TypeError, ValueError) as exc:
            self._send_error(f"cannot encode the answer: {exc}", None)

    def _send_result(self, result: Result) -> None:
        if not result.columns and type(result.lastrowid) is int:  # a write: no JSON coder
            self._write_bytes(
                b'{"ok":true,"columns":[],"rows":[],"rowcount":%d,"lastrowid":%d,"tx":%s}\n'
                % (result.rowcount, result.lastrowid, _TX[self._link.in_transaction])
            )
            return
        answer: dict[str, Any] = {
            "ok": True,
            "columns": result.columns,
            "rows": result.rows,
            "rowcount": result.rowcount,
            "lastrowid": result.lastrowid,
            "tx": self._link.in_transaction,
        }
        if result.truncated:
            answer["truncated"] = True
        self._send(answer)

    def _send_error(self, message: str, code: str | None, text: str = "") -> None:
        answer: dict[str, Any] = {
            "ok": False,
            "error": message,
            "code": code,
            "tx": self._link.in_transaction,
        }
        if text:
            answer["text"] = text
        self._write_bytes(_wire.encode(answer))

    def _write(self, text: str) -> None:
        if text:
            self._write_bytes(text.encode("utf-8", "surrogateescape"))

    def _write_bytes(self, data: bytes) -> None:
        """Queue output; `_flush()` sends it (one send for many pipelined answers)."""
        self._out.append(data)
        self._out_size += len(data)
        if self._out_size > _FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if not self._out:
            return
        data = self._out[0] if len(self._out) == 1 else b"".join(self._out)
        self._out.clear()
        self._out_size = 0
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _pause_reading(self) -> None:
        if not self._read_paused and self._transport is not None:
            self._read_paused = True
            self._transport.pause_reading()

    def _close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()


def _quote_word(word: str) -> str:
    """`word` as one shell-style word for a dot-command line."""
    return "'" + word.replace("'", "'\"'\"'") + "'"
