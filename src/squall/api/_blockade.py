"""Blockade's REST routes (its daemon's API), with Blockade's fields, meaning and codes.

`<name>` is a served cluster. Each route answers as Blockade's daemon did (its
`docs/rest.rst` and its code; where the two differ, the code): the same bodies, the
same status codes (see `_errors`), messages as one line of plain text. Differences:

- Changes need the token, unless the server runs with `--blockade-compat` (loopback
  only), since Blockade's clients send none.
- `POST /blockade/<name>` without a body brings up the served cluster from its file;
  with one (`{"containers": {...}}`, the model of a blockade.yml) it creates the
  cluster from the body, as Blockade did.
- `PUT /blockade/<name>` (adopt running containers) is answered 400: Squall drives
  only containers it created.
- `action` also takes `pause` and `unpause`; `network_state` is `SHAPED` for a custom
  `squall shape`; `device` is null (faults live in the service's namespace).
- Chaos ran until deleted; here a day at most.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any, TypeVar, cast

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse

from squall import events
from squall.api import _stream
from squall.api._deps import CHANGE, READ, Context
from squall.api._errors import BlockadeBadRequest, WrongContentType
from squall.errors import ChaosError
from squall.faults.partition import partition_numbers
from squall.ops import requests as req
from squall.ops.blockade import ChaosOptionError
from squall.ops.operations import Operations
from squall.runtime.base import Action

Route = TypeVar("Route", bound=Callable[..., Coroutine[Any, Any, Any]])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A body without what the route needs, or a blockade that exists."},
    401: {"description": "No token (and no --blockade-compat)."},
    403: {"description": "Wrong token."},
    404: {"description": "No such blockade here."},
    409: {"description": "Another command holds the cluster's lock."},
    413: {"description": "A body over 1 MiB."},
    415: {"description": "The body is not Content-Type: application/json."},
    500: {"description": "Unknown containers, refused changes, chaos errors (as Blockade)."},
}
router = APIRouter(prefix="/blockade", tags=["blockade"], responses=ERRORS)
NO_CONTENT: dict[int | str, dict[str, Any]] = {204: {"description": "Done."}}
BLOCKADE_ACTIONS = ("start", "stop", "restart", "kill", "pause", "unpause")
NETWORK_STATES = ("fast", "slow", "flaky", "duplicate")
PRESET_STATES = ("slow", "flaky", "duplicate")


def _documented(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """The JSON body a route reads itself (Blockade's way), for the OpenAPI document."""
    schema = {"type": "object", "properties": properties, "required": required}
    return {
        "requestBody": {
            "required": bool(required),
            "content": {"application/json": {"schema": schema}},
        }
    }


NAMES = {"type": "array", "items": {"type": "string"}}


async def _body(request: Request, *, optional: bool = False) -> Any:
    """The JSON body, Blockade's way: 415 unless `Content-Type: application/json`.

    With `optional`, no body at all is None (a Squall extension: no JSON needed).
    """
    raw = await request.body()
    if optional and not raw:
        return None
    media = request.headers.get("content-type")
    if media is None:
        raise BlockadeBadRequest("send the body with Content-Type: application/json")
    if media.split(";", 1)[0].strip().lower() != "application/json":
        raise WrongContentType(f"Content-Type must be application/json, not {media}")
    try:
        return json.loads(raw)
    except ValueError:
        raise BlockadeBadRequest("the body is not JSON") from None


def _field(body: Any, key: str, kind: type, what: str) -> Any:
    if not isinstance(body, dict) or key not in body:
        raise BlockadeBadRequest(f"the body needs {key!r}")
    value = body[key]
    if not isinstance(value, kind):
        raise BlockadeBadRequest(f"{key!r} must be {what}")
    return value


def _choice(body: Any, key: str, choices: Sequence[str], what: str) -> str:
    value: str = _field(body, key, str, what)
    if value not in choices:
        raise BlockadeBadRequest(f"{value!r} is not {what} ({', '.join(choices)})")
    return value


def _post_to_names(path: str, key: str, choices: Sequence[str]) -> Callable[[Route], Route]:
    """A change whose body names one of `choices` under `key` and the containers."""
    return router.post(
        path,
        dependencies=CHANGE,
        status_code=204,
        responses=NO_CONTENT,
        openapi_extra=_documented(
            {key: {"enum": list(choices)}, "container_names": NAMES}, [key, "container_names"]
        ),
    )


def _names(body: Any) -> tuple[str, ...]:
    names = _field(body, "container_names", list, "a list of container names")
    if not all(isinstance(n, str) for n in names):
        raise BlockadeBadRequest("'container_names' must be a list of container names")
    return tuple(names)


def _container(entry: dict[str, Any], partition: int | None, shapes: list[str]) -> Any:
    state = entry["state"]
    addresses = entry.get("addresses") or []
    if not shapes:
        network_state = "NORMAL"
    elif shapes[-1] in PRESET_STATES:
        network_state = shapes[-1].upper()
    else:
        network_state = "SHAPED"
    return {
        "name": entry["service"],
        "container_id": entry.get("id"),
        "ip_address": addresses[0]["ip"] if addresses else None,
        "device": None,
        "network_state": network_state,
        "partition": partition,
        "status": "MISSING"
        if state == "missing"
        else "UP"
        if state in ("running", "paused", "restarting")
        else "DOWN",
    }


def _blockade_status(ops: Operations) -> dict[str, Any]:
    """Each container, with the side of the partition in force it is on."""
    report = ops.status(read_kernel=False).to_dict()
    shapes = {s: [e.origin for e in entries] for s, entries in ops.shapes().items()}
    services = [e["service"] for e in report["services"]]
    sides = partition_numbers(ops.partition(), services)
    return {
        "containers": {
            e["service"]: _container(e, sides[e["service"]], shapes.get(e["service"], []))
            for e in report["services"]
        }
    }


def _blockade_event(event: events.Event) -> dict[str, Any]:
    return {
        "timestamp": event.unix_time,
        "event": event.what,
        "status": "Success" if event.ok else "Failed",
        "targets": list(event.targets),
        "message": event.error or "",
    }


@router.get("", dependencies=READ)
async def list_blockades(ctx: Context) -> dict[str, list[str]]:
    """`{"blockades": [name, ...]}`: every cluster this server serves."""
    return {"blockades": await ctx.run(ctx.names)}


@router.post(
    "/{name}",
    dependencies=CHANGE,
    status_code=204,
    responses=NO_CONTENT,
    openapi_extra=_documented({"containers": {"type": "object"}}, []),
)
async def create(ctx: Context, name: str, request: Request) -> Response:
    """With `{"containers": {...}}`: create the cluster from it (400 if it exists);
    without a body: bring the served cluster up from its file (`squall up`)."""
    body = await _body(request, optional=True)
    if body is None:
        await ctx.run(lambda: ctx.ops(name).run(req.UpRequest()))
        return Response(status_code=204)
    _field(body, "containers", dict, "a map of container name to container")
    raw = await request.body()
    await ctx.run(lambda: ctx.create(name, raw).run(req.UpRequest()))
    return Response(status_code=204)


@router.put("/{name}", dependencies=CHANGE)
async def add_containers(ctx: Context, name: str, request: Request) -> PlainTextResponse:
    """Not supported: Squall drives only the containers it made from the cluster file."""
    await _body(request)
    ctx.check_name(name)
    raise BlockadeBadRequest(
        "adding existing containers is not supported: list the service in the cluster file"
    )


@router.get("/{name}", dependencies=READ)
async def get_blockade(ctx: Context, name: str) -> dict[str, Any]:
    """`{"containers": {name: {container_id, ip_address, network_state, partition, status}}}`."""
    return await ctx.run(lambda: _blockade_status(ctx.ops(name)))


@router.delete("/{name}", dependencies=CHANGE, status_code=204, responses=NO_CONTENT)
async def destroy(ctx: Context, name: str) -> Response:
    """Remove the cluster (`squall down`); its chaos run stops first."""
    await ctx.run(lambda: ctx.ops(name).run(req.DownRequest()))
    return Response(status_code=204)


@_post_to_names("/{name}/action", "command", BLOCKADE_ACTIONS)
async def action(
    ctx: Context,
    name: str,
    request: Request,
    signal: Annotated[str, Query(description="For kill.")] = "SIGKILL",
) -> Response:
    """`{"command": "start|stop|restart|kill", "container_names": [...]}`."""
    body = await _body(request)
    ctx.check_name(name)
    command = _choice(body, "command", BLOCKADE_ACTIONS, "an action")
    change = req.ActionRequest(
        Action(command), req.Targets(_names(body)), signal if command == "kill" else None
    )
    await ctx.run(lambda: ctx.ops(name).run(change))
    return Response(status_code=204)


@_post_to_names("/{name}/network_state", "network_state", NETWORK_STATES)
async def network_state(ctx: Context, name: str, request: Request) -> Response:
    """`{"network_state": "fast|slow|flaky|duplicate", "container_names": [...]}`."""
    body = await _body(request)
    ctx.check_name(name)
    state = _choice(body, "network_state", NETWORK_STATES, "a network state")
    change = req.PresetRequest(cast(req.PresetChoice, state), req.Targets(_names(body)))
    await ctx.run(lambda: ctx.ops(name).run(change))
    return Response(status_code=204)


@router.post(
    "/{name}/partitions",
    dependencies=CHANGE,
    status_code=204,
    responses=NO_CONTENT,
    openapi_extra=_documented({"partitions": {"type": "array", "items": NAMES}}, []),
)
async def partitions(
    ctx: Context,
    name: str,
    request: Request,
    random: Annotated[bool, Query(description="A random partition instead.")] = False,
) -> Response:
    """`{"partitions": [["c1"], ["c2", "c3"]]}`, or `?random=true`."""
    if random:
        await _body(request, optional=True)
        change = req.PartitionRequest(random=True)
    else:
        body = await _body(request)
        groups = _field(body, "partitions", list, "a list of lists of container names")
        if not all(isinstance(g, list) and all(isinstance(n, str) for n in g) for g in groups):
            raise BlockadeBadRequest("'partitions' must be a list of lists of container names")
        change = req.PartitionRequest(groups=tuple(tuple(g) for g in groups))
    ctx.check_name(name)
    await ctx.run(lambda: ctx.ops(name).run(change))
    return Response(status_code=204)


@router.delete("/{name}/partitions", dependencies=CHANGE, status_code=204, responses=NO_CONTENT)
async def delete_partitions(ctx: Context, name: str) -> Response:
    """Heal every partition (`squall join`)."""
    await ctx.run(lambda: ctx.ops(name).run(req.JoinRequest()))
    return Response(status_code=204)


@router.get("/{name}/events", dependencies=READ)
async def blockade_events(ctx: Context, name: str) -> dict[str, list[dict[str, Any]]]:
    """`{"events": [{timestamp, event, status, targets, message}]}`, oldest first."""
    ctx.check_name(name)
    found, _ = await ctx.run(lambda: _stream.page(ctx.state_dir(name), 0, 100_000))
    return {"events": [_blockade_event(e) for e in found]}


async def _chaos_options(request: Request) -> dict[str, object]:
    """The chaos options of a body; anything else is a bad option (500, as Blockade)."""
    try:
        options = await _body(request)
    except (BlockadeBadRequest, WrongContentType) as exc:
        raise ChaosOptionError(str(exc)) from None
    if not isinstance(options, dict):
        raise ChaosOptionError("the chaos options must be a JSON object")
    return options


@router.post(
    "/{name}/chaos", dependencies=CHANGE, status_code=201, response_class=PlainTextResponse
)
async def chaos_new(ctx: Context, name: str, request: Request) -> PlainTextResponse:
    """Start chaos (`squall chaos --detach`, Blockade's options): 201."""
    ctx.check_name(name)
    body = await _body(request)
    if not isinstance(body, dict):
        raise ChaosOptionError("the chaos options must be a JSON object")
    change = req.BlockadeChaosRequest(body)
    await ctx.run(lambda: ctx.ops(name).run(change))
    return PlainTextResponse(f"Successfully started chaos on {name}", status_code=201)


@router.put("/{name}/chaos", dependencies=CHANGE, response_class=PlainTextResponse)
async def chaos_update(ctx: Context, name: str, request: Request) -> PlainTextResponse:
    """New options over those in force: the run heals and starts again with them."""
    ctx.check_name(name)
    change = req.BlockadeChaosRequest(await _chaos_options(request), update=True)
    await ctx.run(lambda: ctx.ops(name).run(change))
    return PlainTextResponse(f"Updated chaos on {name}")


@router.delete("/{name}/chaos", dependencies=CHANGE, response_class=PlainTextResponse)
async def chaos_destroy(ctx: Context, name: str) -> PlainTextResponse:
    """Stop chaos; it heals what it did."""
    await ctx.run(lambda: ctx.ops(name).run(req.ChaosStopRequest(required=True)))
    return PlainTextResponse(f"Deleted chaos on {name}")


@router.get("/{name}/chaos", dependencies=READ)
async def chaos_status(ctx: Context, name: str) -> dict[str, dict[str, str]]:
    """`{"status": {"state": "DEGRADED" | "HEALTHY"}}`: DEGRADED while a round holds
    its faults; 500 with no chaos running (as Blockade)."""

    def read() -> dict[str, dict[str, str]]:
        ops = ctx.ops(name)
        if ops.chaos_running() is None:
            raise ChaosError(f"no chaos run is going on cluster {name!r}")
        return {"status": {"state": "DEGRADED" if ops.chaos_in_round() else "HEALTHY"}}

    return await ctx.run(read)


__all__ = ["router"]
