"""`squall serve`: an HTTP API over everything the CLI does, and a live dashboard.

    create_app(context, policy)  the FastAPI application for one cluster
    ApiContext                   the served cluster: file, name, backend, state root
    AuthPolicy                   the token and whether reads need it (`_auth` explains)

Routes: `/api/clusters/{name}/...` (Squall's, described by `/openapi.json`),
`/blockade/...` (Blockade's daemon API), `/` (the dashboard).
"""

from squall.api._app import create_app
from squall.api._auth import (
    TOKEN_FILE,
    AuthPolicy,
    check_bind,
    is_loopback,
    load_or_create_token,
    server_token_file,
)
from squall.api._context import ApiContext
from squall.api._server import bind, serve

__all__ = [
    "TOKEN_FILE",
    "ApiContext",
    "AuthPolicy",
    "bind",
    "check_bind",
    "create_app",
    "is_loopback",
    "load_or_create_token",
    "serve",
    "server_token_file",
]
