"""Run the API with uvicorn on a socket bound here, so the real port is known at once.

The socket listens before uvicorn starts, so the URL can be printed first: a client
that connects at once waits in the backlog until the server accepts.

uvicorn closes a connection left idle after a response, but not one that never
sends a whole request head (a client that connects and waits, or trickles its
headers): `HeadTimeout` closes those after `HEAD_SECONDS`.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Final

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from squall.errors import UsageError

SHUTDOWN_SECONDS = 2
"""Open event streams would hold a stopping server forever; this cuts them off."""
HEAD_SECONDS: Final = 10.0
"""How long a connection may take to send a request's head (line and headers)."""
IDLE_SECONDS: Final = 5
"""How long a connection may stay idle between requests."""


class HeadTimeout(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request head is late.

    The clock starts when the connection opens and again after each response; a new
    request cycle (its head complete) stops it.
    """

    head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_clock()

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:
            self._stop_head_clock()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._start_head_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_clock()
        super().connection_lost(exc)

    def _start_head_clock(self) -> None:
        self._stop_head_clock()
        self.head_timer = self.loop.call_later(HEAD_SECONDS, self._head_late)

    def _stop_head_clock(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_late(self) -> None:
        self.head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host:port` (port 0: any free port).

    Raises:
        UsageError: the address is taken or not this machine's.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


def serve(app: FastAPI, sock: socket.socket) -> None:
    """Serve on `sock` until Ctrl-C or SIGTERM."""
    config = uvicorn.Config(
        app,
        log_level="warning",
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,
        timeout_keep_alive=IDLE_SECONDS,
        lifespan="off",
        http=HeadTimeout,
    )
    uvicorn.Server(config).run(sockets=[sock])


__all__ = ["HEAD_SECONDS", "IDLE_SECONDS", "SHUTDOWN_SECONDS", "HeadTimeout", "bind", "serve"]
