"""`squall sqlite shell HOST:PORT`: the sqlite3 shell's feel, over the network.

Lines are edited and remembered with readline (history in ~/.squall_sqlite_history),
what the seed needed rlwrap for. The shell collects lines until the statement is
complete, as sqlite3 does, and prints what the server renders in the session's
`.mode`; dot-commands go to the server, except `.quit` and `.exit`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from pathlib import Path

from squall.errors import SqliteQueryError, SqliteServerError
from squall.sqlite._commands import MAIN_PROMPT, MORE_PROMPT
from squall.sqlite._statements import has_content
from squall.sqlite.client import Connection, connect

HISTORY = Path.home() / ".squall_sqlite_history"
_HISTORY_LENGTH = 2000


def parse_address(text: str, default_port: int = 12345) -> tuple[str, int]:
    """`HOST:PORT`, `HOST` or `[V6]:PORT` as (host, port).

    Raises:
        SqliteServerError: the port is not a number.
    """
    host, port = text, str(default_port)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not port.isdigit():
        raise SqliteServerError(f"not HOST:PORT: {text!r}")
    return host or "127.0.0.1", int(port)


def _write(text: str) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()


def _run(conn: Connection, text: str) -> None:
    try:
        _write(conn.text(text))
    except SqliteQueryError as exc:
        _write(f"{exc.output}Error: {exc.message}\n")


def _open_history() -> None:
    try:
        import readline
    except ImportError:  # no readline on this Python: plain input() still works
        return
    with contextlib.suppress(OSError):
        readline.read_history_file(HISTORY)
    readline.set_history_length(_HISTORY_LENGTH)


def _save_history() -> None:
    try:
        import readline
    except ImportError:
        return
    with contextlib.suppress(OSError):
        readline.write_history_file(HISTORY)


def run_shell(address: str, token: str | None = None) -> None:
    """Talk to the server at `address` until `.quit` or end of input.

    Raises:
        SqliteServerError: the server cannot be reached, refuses `token`, or the
            connection breaks.
    """
    host, port = parse_address(address)
    interactive = sys.stdin.isatty()
    with connect(host, port, token=token) as conn:
        if interactive:
            _open_history()
            _write(
                f"Connected to {host}:{port} (SQLite {sqlite3.sqlite_version}, squall server)\n"
                'Enter ".help" for usage hints.\n'
            )
        try:
            _loop(conn, interactive)
        finally:
            if interactive:
                _save_history()


def _loop(conn: Connection, interactive: bool) -> None:
    lines: list[str] = []
    while True:
        prompt = (MORE_PROMPT if lines else MAIN_PROMPT) if interactive else ""
        try:
            line = input(prompt)
        except EOFError:
            if interactive:
                _write("\n")
            return
        except KeyboardInterrupt:
            lines = []
            _write("\n")
            continue
        if not lines and line.startswith("."):
            command = line.split()[0].lower()
            if command in (".quit", ".exit"):
                return
            if command == ".mode" and line.split()[1:2] == ["jsonl"]:
                _write("Error: .mode jsonl is for programs; the shell renders text\n")
                continue
            _run(conn, line)
            continue
        if not lines and not has_content(line):
            continue
        lines.append(line)
        text = "\n".join(lines) + "\n"
        if sqlite3.complete_statement(text):
            lines = []
            _run(conn, text)
