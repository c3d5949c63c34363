"""The guard in front of the API: the token first, then the body's size and pace."""

from __future__ import annotations

from pathlib import Path

import anyio
from starlette.types import Message, Receive, Scope, Send

from squall.api._auth import AuthPolicy
from squall.api._guard import RequestGuard

TOKEN = "guard-test-token-0123456789"
POLICY = AuthPolicy(TOKEN, reads_need_token=False, token_file=Path("/srv/squall/api-token"))


def scope(method: str, path: str, headers: dict[str, str]) -> Scope:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }


async def reading_app(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that reads the whole body and answers 200 with its length."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def call(
    guard: RequestGuard, request: Scope, chunks: list[bytes], *, stall: float = 0.0
) -> tuple[int, bytes, int]:
    """Run one request; the status, the body, and how many chunks the app pulled."""
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        if pulled >= len(chunks):
            await anyio.sleep(stall)
            return {"type": "http.disconnect"}
        pulled += 1
        if stall:
            await anyio.sleep(stall)
        return {"type": "http.request", "body": chunks[pulled - 1],
                "more_body": pulled < len(chunks)}  # fmt: skip

    async def send(message: Message) -> None:
        sent.append(message)

    async def run() -> None:
        await guard(request, receive, send)

    anyio.run(run)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, pulled


def guarded(app: object = reading_app, **kw: float) -> RequestGuard:
    from starlette.middleware.exceptions import ExceptionMiddleware

    return RequestGuard(ExceptionMiddleware(app), POLICY, **kw)  # type: ignore[arg-type]


def test_a_change_without_the_token_is_refused_before_its_body_is_read() -> None:
    request = scope("POST", "/api/clusters/x/shapes", {"content-length": str(64 << 20)})
    status, body, pulled = call(guarded(), request, [b"x" * 65536] * 4)
    assert (status, pulled) == (401, 0)
    assert b"/srv/squall/api-token" in body
    wrong = scope("PUT", "/blockade/x/chaos", {"authorization": "Bearer nope"})
    assert call(guarded(), wrong, [b"{}"])[:3:2] == (403, 0)


def test_a_body_over_the_limit_is_413_unread_or_cut_off() -> None:
    auth = {"authorization": f"Bearer {TOKEN}"}
    big = scope("POST", "/api/clusters/x/shapes", {**auth, "content-length": str(2 << 20)})
    assert call(guarded(), big, [b"x"])[::2] == (413, 0)
    chunked = scope("POST", "/api/clusters/x/shapes", auth)
    status, _, pulled = call(guarded(), chunked, [b"x" * 65536] * 64)
    assert status == 413 and pulled == 17  # 1 MiB and one chunk more, never the rest
    assert call(guarded(), chunked, [b"x" * 1000] * 3)[:2] == (200, b"3000")


def test_a_body_that_stalls_is_408() -> None:
    auth = {"authorization": f"Bearer {TOKEN}"}
    request = scope("POST", "/api/clusters/x/shapes", auth)
    status, body, _ = call(guarded(body_seconds=0.2), request, [b"x", b"y"], stall=0.15)
    assert status == 408 and b"0.2s" in body


def test_reads_and_blockade_compat() -> None:
    read = scope("GET", "/api/clusters", {})
    assert call(guarded(), read, [b""])[0] == 200
    compat = RequestGuard(reading_app, AuthPolicy(TOKEN, False, blockade_compat=True))
    assert call(compat, scope("POST", "/blockade/x/partitions", {}), [b"{}"])[0] == 200
    assert call(compat, scope("POST", "/api/clusters/x/up", {}), [b"{}"])[0] == 401
    assert call(compat, scope("POST", "/blockaded", {}), [b"{}"])[0] == 401
    wrong = scope("POST", "/blockade/x", {"authorization": "Bearer wrong"})
    assert call(compat, wrong, [b"{}"])[0] == 403
