"""What a request must pass before any route reads its body: the token, a size, a clock.

FastAPI reads and parses a body before it runs a route's dependencies, so a check
there comes too late: a client without the token could make the server hold any
body it sends. `RequestGuard` sits in front of the app and decides from the head
alone: a change without the right token gets 401/403, a `Content-Length` over
`MAX_BODY` gets 413, both with `Connection: close` and without a byte of the body
read. A body sent without a length is counted as it arrives and cut off at the
limit (413); one that takes longer than `BODY_SECONDS` (10 s: a MiB takes well under
that on any link) to arrive gets 408.
"""

from __future__ import annotations

from typing import Final

import anyio
from starlette.datastructures import Headers, QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from squall.api._auth import READ_METHODS, AuthPolicy, bearer
from squall.api._deps import presented_token
from squall.api._errors import AuthFailed, error_response

MAX_BODY: Final = 1024 * 1024
"""The largest body a request may carry (1 MiB): every body here is a few fields."""
BODY_SECONDS: Final = 10.0
"""How long a body may take to arrive, all of it (a slow or stalled client)."""
CLOSE: Final = {"Connection": "close"}


class RequestGuard:
    """ASGI middleware: the token and the body's size and pace, checked first."""

    def __init__(
        self,
        app: ASGIApp,
        policy: AuthPolicy,
        *,
        max_body: int = MAX_BODY,
        body_seconds: float = BODY_SECONDS,
    ) -> None:
        self.app = app
        self.policy = policy
        self.max_body = max_body
        self.body_seconds = body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        method = scope["method"]
        authorization = headers.get("authorization")
        presented = (
            presented_token(authorization, QueryParams(scope.get("query_string", b"")))
            if method in READ_METHODS
            else bearer(authorization)
        )
        failed = self.policy.decide(method, scope["path"], presented)
        if failed is not None:
            exc = AuthFailed(failed, self.policy.token_file)
            extra = {"WWW-Authenticate": "Bearer"} if failed == 401 else {}
            response = error_response(
                Request(scope), failed, str(exc), "AuthFailed", headers={**extra, **CLOSE}
            )
            await response(scope, receive, send)
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            response = error_response(
                Request(scope), 413, self._too_large(), "BodyTooLarge", headers=CLOSE
            )
            await response(scope, receive, send)
            return
        await self.app(scope, self._bounded(receive), send)

    def _too_large(self) -> str:
        return f"the body is over {self.max_body // 1024} KiB; nothing was read or changed"

    def _bounded(self, receive: Receive) -> Receive:
        """`receive`, cut off past `max_body` bytes (413) or `body_seconds` (408)."""
        received = 0
        deadline: float | None = None
        whole = False

        async def bounded() -> Message:
            nonlocal received, deadline, whole
            if whole:  # the body is in; later calls wait for a disconnect (streams)
                return await receive()
            now = anyio.current_time()
            if deadline is None:
                deadline = now + self.body_seconds
            try:
                with anyio.fail_after(max(deadline - now, 0.0)):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(
                    408, f"the body did not arrive within {self.body_seconds:g}s", CLOSE
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise HTTPException(413, self._too_large(), CLOSE)
                whole = not message.get("more_body", False)
            return message

        return bounded


__all__ = ["BODY_SECONDS", "MAX_BODY", "RequestGuard"]
