"""The ASGI application: routes, error answers, the Host check, the dashboard's files."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from squall import __version__
from squall.api import _blockade, _errors, _routes
from squall.api._auth import AuthPolicy
from squall.api._context import ApiContext
from squall.api._guard import RequestGuard

STATIC = Path(__file__).parent / "static"
DESCRIPTION = """\
Everything `squall` does on one cluster, over HTTP: services and their actions, shapes,
presets, partitions, the event log (also as server-sent events), and Blockade's REST
routes under `/blockade`. Changes need `Authorization: Bearer <token>` (printed by
`squall serve`, kept in `<state root>/api-token`); reads are open on loopback. The
token is checked, and a body over 1 MiB refused (413), before any body is read.
Errors are `{"error": "<one line>", "type": "<Squall error>", "service": ...}`.
"""


class HostCheck:
    """Answer 400 to a request whose `Host` is not one of `allowed` (DNS rebinding)."""

    def __init__(self, app: ASGIApp, allowed: Collection[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            raw = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if host_name(raw) not in self.allowed:
                response = JSONResponse(
                    {
                        "error": f"Host {raw!r} is not this server's; use 127.0.0.1",
                        "type": "HostRefused",
                        "service": None,
                    },
                    status_code=400,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def host_name(header: str) -> str:
    """`127.0.0.1:8080` -> `127.0.0.1`; `[::1]:8080` -> `::1`."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def create_app(
    context: ApiContext,
    policy: AuthPolicy,
    *,
    allowed_hosts: Collection[str] | None = None,
) -> FastAPI:
    """The API for the served clusters.

    Args:
        context: the served clusters, the backend and the state root.
        policy: the token, and whether reads need it (checked before any body is read).
        allowed_hosts: names the `Host` header may carry (None: any).
    """
    app = FastAPI(
        title="Squall",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    app.state.context = context
    app.state.auth = policy
    _errors.install(app)
    app.include_router(_routes.router)
    app.include_router(_blockade.router)

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(RequestGuard, policy=policy)
    if allowed_hosts is not None:
        app.add_middleware(HostCheck, allowed=allowed_hosts)
    return app


__all__ = ["create_app", "host_name"]
