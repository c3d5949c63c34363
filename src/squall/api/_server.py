"""Run the API with uvicorn on a socket bound here, so the real port is known at once.

The socket listens before uvicorn starts, so the URL can be printed first: a client
that connects at once waits in the backlog until the server accepts.
"""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI

from squall.errors import UsageError

SHUTDOWN_SECONDS = 2
"""Open event streams would hold a stopping server forever; this cuts them off."""


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
        app, log_level="warning", timeout_graceful_shutdown=SHUTDOWN_SECONDS, lifespan="off"
    )
    uvicorn.Server(config).run(sockets=[sock])


__all__ = ["SHUTDOWN_SECONDS", "bind", "serve"]
