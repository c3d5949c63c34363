"""Real servers for the SQLite tests: processes on 127.0.0.1, files in tmp_path."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from squall.sqlite.config import ServerConfig
from squall.sqlite.server import SqliteServer

SRC = Path(__file__).resolve().parents[3] / "src"
SERVER = ("squall.sqlite.standalone",)  # the stdlib-only entry point containers use
CLICK_SERVE = ("squall.sqlite", "serve")  # the click command
_ANNOUNCE = re.compile(rb"on 127\.0\.0\.1:(\d+)")


@dataclass
class ServerProcess:
    """A `python -m squall.sqlite.standalone` child and the port it bound."""

    process: subprocess.Popen[bytes]
    port: int

    def terminate(self, timeout: float = 20.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


def start_server(db: Path, *args: str, command: tuple[str, ...] = SERVER) -> ServerProcess:
    """Start a server on a free port (port 0) and wait until it listens."""
    env = dict(os.environ, PYTHONPATH=str(SRC))
    argv = [sys.executable, "-m", *command, "--db", str(db), "--port", "0", *args]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = _ANNOUNCE.search(line)
    if match is None:
        process.kill()
        _, err = process.communicate(timeout=10)
        raise AssertionError(f"server did not start: {line!r} {err!r}")
    return ServerProcess(process, int(match.group(1)))


@pytest.fixture
def server_factory() -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def factory(db: Path, *args: str) -> ServerProcess:
        server = start_server(db, *args)
        started.append(server)
        return server

    yield factory
    for server in started:
        if server.process.poll() is None:
            server.kill()


@contextlib.contextmanager
def serving(config: ServerConfig) -> Iterator[int]:
    """A server in this process, on its own event loop thread; yields its port."""
    loop = asyncio.new_event_loop()
    server = SqliteServer(config)
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_until_complete(server.serve_until_stopped())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert ready.wait(10)
        yield server.address[1]
    finally:
        loop.call_soon_threadsafe(server.stop)
        thread.join(20)
        loop.close()


@pytest.fixture
def inprocess_server() -> Iterator[Callable[[ServerConfig], int]]:
    """A server in this process (for settings the command line does not offer)."""
    with contextlib.ExitStack() as servers:
        yield lambda config: servers.enter_context(serving(config))


class Telnet:
    """A raw client, as telnet or nc would be: bytes in, bytes out."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_until(self, marker: bytes, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self.buffer:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buffer)
            self.buffer += chunk
        end = self.buffer.index(marker) + len(marker)
        data, self.buffer = self.buffer[:end], self.buffer[end:]
        return data

    def read_all(self, timeout: float = 10.0) -> bytes:
        """Everything until the server closes the connection."""
        self.sock.settimeout(timeout)
        data = self.buffer
        self.buffer = b""
        while chunk := self.sock.recv(65536):
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


def sqlite_cli(db: Path, script: str) -> bytes:
    """What the real sqlite3 shell prints for `script` read from a pipe."""
    return subprocess.run(
        ["sqlite3", str(db)], input=script.encode(), capture_output=True, check=True
    ).stdout


SQLITE3 = "/usr/bin/sqlite3"
# sqlite3 reading a pipe writes an error to stderr as `Runtime error near line 3: MSG (19)`
# (the code when it is not SQLITE_ERROR), a parse error with two lines showing where.
_SHELL_ERROR = re.compile(
    rb"^(?:Parse|Runtime) error near line \d+: (.*?)(?: \(\d+\))?\n(?:  .*\n *\^--- error here\n)?",
    re.MULTILINE,
)


def as_server_errors(output: bytes) -> bytes:
    """sqlite3's error lines written as the server writes them: `Error: MSG`."""
    return _SHELL_ERROR.sub(rb"Error: \1\n", output)


def shell_output(db: Path, script: str) -> bytes:
    """What sqlite3 prints for `script` on its stdin, its errors in place (`stdbuf -o0`
    keeps stdout unbuffered, so errors on stderr come where they happened)."""
    completed = subprocess.run(
        ["stdbuf", "-o0", SQLITE3, str(db)],
        input=script.encode(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=60,
        check=False,
    )
    return as_server_errors(completed.stdout)


def session_output(port: int, script: str) -> bytes:
    """What one server session prints for `script` (prompts off), until `.quit`."""
    client = Telnet(port)
    try:
        client.read_until(b"sqlite> ")
        client.send(b'.prompt ""\n' + script.encode() + b"\n.quit\n")
        return client.read_all(timeout=60)
    finally:
        client.close()


class ShellProcess:
    """A sqlite3 process fed a step at a time: each step ends with a marker statement
    (`select 'mark-N';`, which changes nothing) whose output says the step is done."""

    def __init__(self, db: Path) -> None:
        self.process = subprocess.Popen(
            ["stdbuf", "-o0", SQLITE3, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.output = b""

    def step(self, text: str, marker: str, timeout: float = 30.0) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{text}\nselect '{marker}';\n".encode())
        self.process.stdin.flush()
        end = marker.encode() + b"\n"
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        while not self.output.endswith(end):
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                raise AssertionError(f"sqlite3 stopped answering: {self.output[-500:]!r}")
            self.output += chunk

    def close(self) -> bytes:
        """End the process; everything it printed, errors written as the server's."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)
        return as_server_errors(self.output)
