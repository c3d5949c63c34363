"""The SQLite network server: listen, admit sessions, shut down cleanly.

Run it with `squall sqlite serve`, or, where only the standard library is at hand (a
container with just python3), `python3 -m squall.sqlite.standalone --db FILE`.
On SIGTERM or SIGINT it stops listening, lets every statement in flight finish and be
answered, rolls back open transactions, checkpoints the WAL into the database file and
returns (the process exits 0).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from squall.errors import SqliteServerError
from squall.sqlite._engine import Engine
from squall.sqlite._session import Session
from squall.sqlite.config import ServerConfig

_GRACE_AFTER_TIMEOUT = 2.0
_READ_BUFFER = 1 << 18


class SqliteServer:
    """One listening server; `await start()`, then `await serve_until_stopped()`."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._engine = Engine(
            config.db,
            read_only=config.read_only,
            statement_timeout=config.statement_timeout,
            idle_timeout=config.idle_transaction_timeout,
            max_rows=config.max_rows,
        )
        self._sessions: set[Session] = set()
        self._read_buffer = memoryview(bytearray(_READ_BUFFER))  # the sessions' (see Session)
        self._listener: asyncio.Server | None = None
        self._stopping: asyncio.Event | None = None
        self._all_gone: asyncio.Event | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The host and port actually bound (useful with port 0)."""
        assert self._listener is not None, "start() first"
        host, port = self._listener.sockets[0].getsockname()[:2]
        return str(host), int(port)

    async def start(self) -> None:
        """Open the database and start listening.

        Raises:
            SqliteServerError: the database cannot be opened or the port bound.
        """
        if self.config.read_only and not self.config.db.exists():
            raise SqliteServerError(f"{self.config.db} does not exist (and --read-only)")
        self._stopping = asyncio.Event()
        self._all_gone = asyncio.Event()
        self._all_gone.set()
        self._engine.open()
        loop = asyncio.get_running_loop()
        try:
            self._listener = await loop.create_server(
                self._new_session, self.config.host, self.config.port, reuse_address=True
            )
        except OSError as exc:
            await self._engine.close()
            raise SqliteServerError(
                f"cannot listen on {self.config.host}:{self.config.port}: {exc.strerror}"
            ) from exc

    def stop(self) -> None:
        """Ask `serve_until_stopped()` to shut down (safe from a signal handler)."""
        if self._stopping is not None:
            self._stopping.set()

    async def serve_until_stopped(self) -> None:
        """Serve until `stop()`, then shut down gracefully."""
        assert self._stopping is not None, "start() first"
        await self._stopping.wait()
        await self.shut_down()

    async def shut_down(self) -> None:
        """Stop listening, finish statements in flight, roll back, checkpoint, close."""
        if self._listener is not None:
            self._listener.close()
        for session in list(self._sessions):
            session.shut_down()
        assert self._all_gone is not None
        try:
            grace = self.config.statement_timeout + _GRACE_AFTER_TIMEOUT
            await asyncio.wait_for(self._all_gone.wait(), grace)
        except TimeoutError:
            for session in list(self._sessions):  # clients that read nothing cannot hold us
                session.abort()
            await self._all_gone.wait()
        if self._listener is not None:
            await self._listener.wait_closed()
        await self._engine.close()

    def _new_session(self) -> Session:
        return Session(self.config, self._engine, self._admit, self._gone, self._read_buffer)

    def _admit(self, session: Session) -> str | None:
        assert self._stopping is not None and self._all_gone is not None
        if self._stopping.is_set():
            return "the server is shutting down"
        if len(self._sessions) >= self.config.max_connections:
            return f"too many connections (the server allows {self.config.max_connections})"
        self._sessions.add(session)
        self._all_gone.clear()
        return None

    def _gone(self, session: Session) -> None:
        self._sessions.discard(session)
        if not self._sessions and self._all_gone is not None:
            self._all_gone.set()


async def _serve(config: ServerConfig, ready: Callable[[SqliteServer], None]) -> None:
    server = SqliteServer(config)
    await server.start()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, server.stop)
    ready(server)
    await server.serve_until_stopped()


def serve(config: ServerConfig, ready: Callable[[SqliteServer], None] | None = None) -> None:
    """Run a server in this thread until SIGTERM/SIGINT, then return.

    Args:
        config: what to serve and how.
        ready: called once the server listens (for example to print its address).

    Raises:
        SqliteServerError: the server could not start.
    """
    asyncio.run(_serve(config, ready or _announce))


def _announce(server: SqliteServer) -> None:
    host, port = server.address
    mode = " (read-only)" if server.config.read_only else ""
    print(f"squall sqlite: serving {server.config.db}{mode} on {host}:{port}", flush=True)
