"""Route dependencies: the served cluster's context and the two access levels."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from squall.api._auth import AuthPolicy, bearer
from squall.api._context import ApiContext
from squall.api._errors import AuthFailed

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="The token `squall serve` printed (also in `<state dir>/api-token`).",
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
    """Changes: the token in `Authorization: Bearer`, always (401 none, 403 wrong)."""
    failed = _policy(request).check(credentials.credentials if credentials else None)
    if failed is not None:
        raise AuthFailed(failed)


async def allow_read(request: Request) -> None:
    """Reads: open on loopback; elsewhere the token (header, or `?token=` for SSE).

    A token that is presented is checked even where reads are open, so a client with
    a stale token learns it at once. (The header is read here, not through the
    security scheme, so the OpenAPI document does not call reads protected.)
    """
    presented = bearer(request.headers.get("authorization")) or request.query_params.get("token")
    policy = _policy(request)
    if presented is None and not policy.reads_need_token:
        return
    failed = policy.check(presented)
    if failed is not None:
        raise AuthFailed(failed)


Context = Annotated[ApiContext, Depends(context)]
CHANGE = [Depends(require_token)]
READ = [Depends(allow_read)]

__all__ = ["CHANGE", "READ", "Context", "allow_read", "context", "require_token"]
