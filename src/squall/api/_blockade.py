"""Blockade's REST routes (its daemon's API), answered by Squall, so its clients keep working.

`<name>` is the served cluster's name. Differences from Blockade, on purpose:

- Changes need `Authorization: Bearer <token>` like every other change here.
- `POST /blockade/<name>` brings up the cluster from its file (any body is ignored:
  services come from the cluster file); running it again is not an error.
- `PUT /blockade/<name>` (adopt running containers) is answered 400: Squall only
  drives the containers it created from the file.
- `/blockade/<name>/chaos` (Blockade's later daemon) runs `squall chaos` detached; its
  chaos ran until deleted, here for a day at most.
- `GET /blockade/<name>/events` is valid JSON (`{"events": [...]}`), from the same log
  as `squall events`. `network_state` is `NORMAL`, `SLOW`, `FLAKY`, `DUPLICATE` or
  `SHAPED` (a custom `squall shape`); `device` is null (faults live in the namespace).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict

from squall import events
from squall.api import _stream
from squall.api._deps import CHANGE, READ, Context
from squall.errors import UsageError
from squall.ops import requests as req
from squall.ops.operations import Operations
from squall.runtime.base import Action

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad input (Blockade's answer), as one line of text."},
    401: {"description": "No token."},
    403: {"description": "Wrong token."},
    404: {"description": "No such blockade (this server serves one cluster)."},
    409: {"description": "Another command holds the cluster's lock."},
    500: {"description": "The engine or the kernel refused."},
}
router = APIRouter(prefix="/blockade", tags=["blockade"], responses=ERRORS)
NO_CONTENT: dict[int | str, dict[str, Any]] = {204: {"description": "Done."}}
BLOCKADE_ACTIONS = ("start", "stop", "restart", "kill", "pause", "unpause")
NETWORK_STATES = ("fast", "slow", "flaky", "duplicate")


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class ActionRequest(_Loose):
    command: str
    container_names: list[str]


class NetworkStateRequest(_Loose):
    network_state: str
    container_names: list[str]


class PartitionsRequest(_Loose):
    partitions: list[list[str]] = []


class ChaosRequest(BaseModel):
    """Blockade's chaos options: delays and run times in milliseconds."""

    model_config = ConfigDict(extra="forbid")
    min_start_delay: int = 30_000
    max_start_delay: int = 300_000
    min_run_time: int = 30_000
    max_run_time: int = 300_000
    min_containers_at_once: int = 1
    max_containers_at_once: int = 1
    min_events_at_once: int = 1
    max_events_at_once: int = 1
    event_set: list[str] = ["SLOW", "DUPLICATE", "FLAKY", "STOP", "PARTITION"]

    def squall_options(self) -> req.ChaosRequest:
        """Blockade's chaos runs until deleted; here that is a day at most."""
        unknown = sorted(set(self.event_set) - set(BLOCKADE_CHAOS_EVENTS))
        if unknown:
            raise UsageError(f"{', '.join(unknown)} is an unknown event")
        return req.ChaosRequest(
            duration="24h",
            events=",".join(BLOCKADE_CHAOS_EVENTS[e] for e in self.event_set),
            interval=f"{self.min_start_delay}ms..{self.max_start_delay}ms",
            hold=f"{self.min_run_time}ms..{self.max_run_time}ms",
            at_once=f"{self.min_containers_at_once}..{self.max_containers_at_once}",
        )


BLOCKADE_CHAOS_EVENTS = {
    "SLOW": "slow", "DUPLICATE": "duplicate", "FLAKY": "flaky", "STOP": "stop",
    "PARTITION": "partition",
}  # fmt: skip


def _container(entry: dict[str, Any], groups: list[list[str]], shapes: list[str]) -> Any:
    name = entry["service"]
    state = entry["state"]
    addresses = entry.get("addresses") or []
    group = next((i + 1 for i, g in enumerate(groups) if name in g), None)
    if not shapes:
        network_state = "NORMAL"
    elif shapes[-1] in ("slow", "flaky", "duplicate"):
        network_state = shapes[-1].upper()
    else:
        network_state = "SHAPED"
    return {
        "name": name,
        "container_id": entry.get("id"),
        "ip_address": addresses[0]["ip"] if addresses else None,
        "device": None,
        "network_state": network_state,
        "partition": group,
        "status": "MISSING"
        if state == "missing"
        else "UP"
        if state in ("running", "paused", "restarting")
        else "DOWN",
    }


def _blockade_status(ops: Operations) -> dict[str, Any]:
    report = ops.status(read_kernel=False).to_dict()
    shapes = {s: [e.origin for e in entries] for s, entries in ops.shapes().items()}
    groups = report["partition"]["groups"]
    return {
        "containers": {
            e["service"]: _container(e, groups, shapes.get(e["service"], []))
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
    """`{"blockades": [name]}`: the cluster this server serves."""
    return {"blockades": [ctx.project]}


@router.post("/{name}", dependencies=CHANGE, status_code=204, responses=NO_CONTENT)
async def create(ctx: Context, name: str) -> Response:
    """Bring the cluster up from its file (`squall up`)."""
    await ctx.run(lambda: ctx.ops(name).run(req.UpRequest()))
    return Response(status_code=204)


@router.put("/{name}", dependencies=CHANGE)
async def add_containers(ctx: Context, name: str) -> PlainTextResponse:
    """Not supported: Squall drives only the containers it made from the cluster file."""
    ctx.check_name(name)
    return PlainTextResponse(
        "adding existing containers is not supported: list the service in the cluster file",
        status_code=400,
    )


@router.get("/{name}", dependencies=READ)
async def get_blockade(ctx: Context, name: str) -> dict[str, Any]:
    """`{"containers": {name: {container_id, ip_address, network_state, partition, status}}}`."""
    return await ctx.run(lambda: _blockade_status(ctx.ops(name)))


@router.delete("/{name}", dependencies=CHANGE, status_code=204, responses=NO_CONTENT)
async def destroy(ctx: Context, name: str) -> Response:
    """Remove the cluster (`squall down`)."""
    await ctx.run(lambda: ctx.ops(name).run(req.DownRequest()))
    return Response(status_code=204)


@router.post("/{name}/action", dependencies=CHANGE, status_code=204, responses=NO_CONTENT)
async def action(
    ctx: Context,
    name: str,
    body: ActionRequest,
    signal: Annotated[str, Query(description="For kill.")] = "SIGKILL",
) -> Response:
    """`{"command": "start|stop|restart|kill", "container_names": [...]}`."""
    if body.command not in BLOCKADE_ACTIONS:
        raise UsageError(f"'{body.command}' is not a valid action")
    request = req.ActionRequest(
        Action(body.command),
        req.Targets(tuple(body.container_names)),
        signal if body.command == "kill" else None,
    )
    await ctx.run(lambda: ctx.ops(name).run(request))
    return Response(status_code=204)


@router.post("/{name}/network_state", dependencies=CHANGE, status_code=204, responses=NO_CONTENT)
async def network_state(ctx: Context, name: str, body: NetworkStateRequest) -> Response:
    """`{"network_state": "fast|slow|flaky|duplicate", "container_names": [...]}`."""
    if body.network_state not in NETWORK_STATES:
        raise UsageError(f"'{body.network_state}' is not a valid network state")
    request = req.PresetRequest(
        body.network_state,  # type: ignore[arg-type]  # checked just above
        req.Targets(tuple(body.container_names)),
    )
    await ctx.run(lambda: ctx.ops(name).run(request))
    return Response(status_code=204)


@router.post("/{name}/partitions", dependencies=CHANGE, status_code=204, responses=NO_CONTENT)
async def partitions(
    ctx: Context,
    name: str,
    body: PartitionsRequest | None = None,
    random: Annotated[bool, Query(description="A random partition instead.")] = False,
) -> Response:
    """`{"partitions": [["c1"], ["c2", "c3"]]}`, or `?random=true`."""
    if random:
        request = req.PartitionRequest(random=True)
    elif body is None or not body.partitions:
        raise UsageError("'partitions' not found in body")
    else:
        request = req.PartitionRequest(groups=tuple(tuple(g) for g in body.partitions))
    await ctx.run(lambda: ctx.ops(name).run(request))
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
    found, _ = await ctx.run(lambda: _stream.page(ctx.state_dir(), 0, 100_000))
    return {"events": [_blockade_event(e) for e in found]}


@router.post(
    "/{name}/chaos", dependencies=CHANGE, status_code=201, response_class=PlainTextResponse
)
async def chaos_new(ctx: Context, name: str, body: ChaosRequest) -> PlainTextResponse:
    """Start chaos (`squall chaos --detach`): 201, or 400 on bad options / one running."""
    options = body.squall_options()
    await ctx.run(lambda: ctx.ops(name).run(options))
    return PlainTextResponse(f"Successfully started chaos on {name}", status_code=201)


@router.put("/{name}/chaos", dependencies=CHANGE, response_class=PlainTextResponse)
async def chaos_update(ctx: Context, name: str, body: ChaosRequest) -> PlainTextResponse:
    """New options: the running chaos heals and stops, and a new one starts with them."""
    options = body.squall_options()

    def restart() -> None:
        ops = ctx.ops(name)
        ops.run(req.ChaosStopRequest())
        ops.run(options)

    await ctx.run(restart)
    return PlainTextResponse(f"Updated chaos on {name}")


@router.delete("/{name}/chaos", dependencies=CHANGE, response_class=PlainTextResponse)
async def chaos_destroy(ctx: Context, name: str) -> PlainTextResponse:
    """Stop chaos; it heals what it did."""
    await ctx.run(lambda: ctx.ops(name).run(req.ChaosStopRequest()))
    return PlainTextResponse(f"Deleted chaos on {name}")


@router.get("/{name}/chaos", dependencies=READ)
async def chaos_status(ctx: Context, name: str) -> dict[str, dict[str, str]]:
    """`{"status": {"state": ...}}`: DEGRADED while faults are in force, else HEALTHY;
    STOPPED when no chaos runs."""

    def read() -> dict[str, dict[str, str]]:
        ops = ctx.ops(name)
        if ops.chaos_running() is None:
            return {"status": {"state": "STOPPED"}}
        degraded = not ops.session.desired_faults().is_empty
        return {"status": {"state": "DEGRADED" if degraded else "HEALTHY"}}

    return await ctx.run(read)


__all__ = ["router"]
