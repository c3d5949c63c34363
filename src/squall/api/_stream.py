"""The event log over HTTP: a page of it, or a server-sent-events stream that follows it.

The log is `events.jsonl` in the state directory, appended by every writer (CLI, API,
chaos runs, timers), so the stream shows what the CLI does as well as what the API
does. Positions are byte offsets in that file: each SSE message carries one as its
`id`, and a client that reconnects with `Last-Event-ID` misses nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from starlette.requests import Request

from squall import events

POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0


def live_log(state_dir: Path) -> Path:
    return state_dir / events.EVENTS_FILE


def page(state_dir: Path, since: int, limit: int) -> tuple[list[events.Event], int]:
    """Events after byte `since` (the last `limit` of them) and the offset after them.

    Reads the live log, or the one `down` kept when the cluster is gone.
    """
    tail = events.Tail(events.log_path(state_dir), since)
    found = tail.poll()
    return found[-limit:] if limit else [], tail.offset


def _message(data: str, event_id: int | None = None, kind: str | None = None) -> str:
    lines = []
    if kind:
        lines.append(f"event: {kind}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.extend(f"data: {line}" for line in data.splitlines() or [""])
    return "\n".join(lines) + "\n\n"


async def follow(request: Request, state_dir: Path, since: int | None) -> AsyncIterator[str]:
    """SSE messages: `hello` with the start offset, then one message per event.

    `since` None starts at the end of the log (only new events); 0 replays it all.
    Ends when the client goes away.
    """
    path = live_log(state_dir)
    tail = events.Tail.at_end(path) if since is None else events.Tail(path, since)
    yield _message(json.dumps({"offset": tail.offset}), kind="hello")
    quiet = 0.0
    while not await request.is_disconnected():
        found = tail.poll()
        for index, event in enumerate(found):
            last = index == len(found) - 1
            yield _message(event.to_json(), tail.offset if last else None)
        if found:
            quiet = 0.0
        else:
            quiet += POLL_SECONDS
            if quiet >= KEEPALIVE_SECONDS:
                quiet = 0.0
                yield ": keepalive\n\n"
        await anyio.sleep(POLL_SECONDS)


__all__ = ["follow", "live_log", "page"]
