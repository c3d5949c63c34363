"""Real servers for the SQLite tests: processes on 127.0.0.1, files in tmp_path."""

from __future__ import annotations

import asyncio
import os
import re
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


@pytest.fixture
def inprocess_server() -> Iterator[Callable[[ServerConfig], int]]:
    """A server in this process (for settings the command line does not offer)."""
    loops: list[tuple[asyncio.AbstractEventLoop, SqliteServer, threading.Thread]] = []

    def factory(config: ServerConfig) -> int:
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
        assert ready.wait(10)
        loops.append((loop, server, thread))
        return server.address[1]

    yield factory
    for loop, server, thread in loops:
        loop.call_soon_threadsafe(server.stop)
        thread.join(20)
        loop.close()


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
