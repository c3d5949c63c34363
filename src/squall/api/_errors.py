"""Errors to HTTP answers, in one place: a status and Squall's one-line message.

| error                                   | status |
|-----------------------------------------|--------|
| no token / wrong token                  | 401 / 403 |
| unknown cluster, service or route       | 404 |
| lock held by another command            | 409 |
| a chaos run is already going            | 409 |
| bad value (duration, rate, percent...), | 422 |
|   bad body, unsupported fault here      |     |

| a body over 1 MiB / too slow to arrive  | 413 / 408 |
| no engine                               | 503 |
| the engine or the kernel refused        | 500 |

On Blockade's routes, Blockade's codes (read from its daemon): 404 for an unknown
blockade, 415 for a body that is not JSON, 400 for a body missing what the route
needs and for creating a blockade that exists, and 500 for what Blockade's core
refused (unknown containers, a bad cluster body) and for every chaos error (bad
options, no chaos to update, stop or read).

Squall's own routes answer `{"error": ..., "type": ..., "service": ...}`; Blockade's
routes answer the message as plain text.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from squall.api._auth import BLOCKADE_PREFIX
from squall.api._context import ClusterExists, ClusterNotServed, InvalidClusterName
from squall.errors import (
    BackendError,
    ChaosRunning,
    ClusterBusy,
    EngineUnavailable,
    FaultUnsupported,
    ServiceNotFound,
    SpecError,
    SquallError,
    UsageError,
)


class BlockadeBadRequest(UsageError):
    """A Blockade route's body lacks a field or has one of the wrong kind (400)."""


class WrongContentType(UsageError):
    """A Blockade route's body is not `Content-Type: application/json` (415)."""


class AuthFailed(Exception):
    """A request without the token (401) or with a wrong one (403)."""

    def __init__(self, status: int, token_file: Path | None = None) -> None:
        self.status = status
        where = f"it is in {token_file}" if token_file is not None else "squall serve printed it"
        super().__init__(
            f"this needs the API token: send `Authorization: Bearer <token>` ({where})"
            if status == 401
            else "wrong API token"
        )


def status_for(exc: SquallError) -> int:
    if isinstance(exc, ServiceNotFound):
        return 404
    if isinstance(exc, UsageError | SpecError | FaultUnsupported):
        return 422
    if isinstance(exc, ClusterBusy | ChaosRunning):
        return 409
    if isinstance(exc, EngineUnavailable):
        return 503
    return 500


def _blockade_status(exc: SquallError, status: int) -> int:
    """Blockade's codes: 404 unknown blockade, 400/415 bad request, 500 the rest."""
    if isinstance(exc, ClusterNotServed):
        return 404
    if isinstance(exc, BlockadeBadRequest | ClusterExists | InvalidClusterName):
        return 400
    if isinstance(exc, WrongContentType):
        return 415
    return status if status in (409, 503) else 500


def error_response(
    request: Request,
    status: int,
    message: str,
    kind: str,
    service: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    if request.url.path.startswith(BLOCKADE_PREFIX):
        return PlainTextResponse(message, status_code=status, headers=headers)
    body: dict[str, Any] = {"error": message, "type": kind, "service": service}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(request: Request, exc: RequestValidationError) -> str:
    """The first problem as one line: `action: Input should be 'start', 'stop'...`."""
    errors = exc.errors()
    if not errors:
        return "bad request"
    first = errors[0]
    json_body = "json" in request.headers.get("content-type", "")
    if tuple(first.get("loc", ())) == ("body",) and not json_body:
        return "send the body as JSON, with Content-Type: application/json"
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    text = f"{where}: {first.get('msg', 'invalid')}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more)"
    return text


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into one of the answers above."""

    async def squall_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SquallError)
        service = exc.service if isinstance(exc, BackendError) else None
        status = status_for(exc)
        if request.url.path.startswith(BLOCKADE_PREFIX):
            status = _blockade_status(exc, status)
        return error_response(request, status, exc.message, type(exc).__name__, service)

    async def auth_failed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AuthFailed)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(request, exc.status, str(exc), "AuthFailed", headers=headers)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        status = 400 if request.url.path.startswith(BLOCKADE_PREFIX) else 422
        return error_response(request, status, _validation_message(request, exc), "ValidationError")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        message = str(exc.detail) if exc.detail else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}"
        return error_response(request, exc.status_code, message, "HTTPError", headers=exc.headers)

    app.add_exception_handler(SquallError, squall_error)
    app.add_exception_handler(AuthFailed, auth_failed)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)


__all__ = [
    "AuthFailed",
    "BlockadeBadRequest",
    "WrongContentType",
    "error_response",
    "install",
    "status_for",
]
