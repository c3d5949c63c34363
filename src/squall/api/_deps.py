"""Route dependencies: the served cluster's context and the two access levels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from squall.api._auth import AuthPolicy, bearer
from squall.api._context import ApiContext
from squall.api._errors import AuthFailed

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="The token `squall serve` printed (also in `<state root>/api-token`).",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def context(request: Request) -> ApiContext:
    found = request.app.state.context
    assert isinstance(found, ApiContext)
    return found


def _policy(request: Request) -> AuthPolicy:
    found = request.app.state.auth
    assert isinstance(found, AuthPolicy)
    return found


async def require_token(request: Request, credentials: Credentials) -> None:
    """Changes: the token in `Authorization: Bearer` (401 none, 403 wrong).

    `RequestGuard` has decided the same before the body was read; this declares the
    security scheme in the OpenAPI document and holds for an app served without it.
    """
    presented = credentials.credentials if credentials else None
    _decide(request, presented)


async def allow_read(request: Request) -> None:
    """Reads: open on loopback; elsewhere the token (header, or `?token=` for SSE).

    A token that is presented is checked even where reads are open, so a client with
    a stale token learns it at once. (The header is read here, not through the
    security scheme, so the OpenAPI document does not call reads protected.)
    """
    _decide(request, presented_token(request.headers.get("authorization"), request.query_params))


def presented_token(authorization: str | None, query: Mapping[str, str]) -> str | None:
    """The token a request carries: `Authorization: Bearer`, else `?token=`."""
    return bearer(authorization) or query.get("token") or None


def _decide(request: Request, presented: str | None) -> None:
    policy = _policy(request)
    failed = policy.decide(request.method, request.url.path, presented)
    if failed is not None:
        raise AuthFailed(failed, policy.token_file)


Context = Annotated[ApiContext, Depends(context)]
CHANGE = [Depends(require_token)]
READ = [Depends(allow_read)]

__all__ = [
    "CHANGE",
    "READ",
    "Context",
    "allow_read",
    "context",
    "presented_token",
    "require_token",
]
