"""Squall's own routes, under `/api/clusters/{name}`: one route per CLI command.

Reads are GET; every change is POST, PUT or DELETE and needs the token. Changes run
the same session calls as the CLI, in a worker thread, under the cluster's lock.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from squall.api import _ops, _stream
from squall.api._context import reads_kernel
from squall.api._deps import CHANGE, READ, Context
from squall.api._models import (
    ActionBody,
    ApiError,
    Changed,
    ChaosBody,
    ChaosStatus,
    ClusterInfo,
    ClusterList,
    DownBody,
    EventList,
    Overview,
    PartitionBody,
    PresetBody,
    PresetRoute,
    ProbeBody,
    ShapeBody,
    ShapeView,
    UpBody,
    to_request,
)
from squall.ops.requests import (
    ChaosRequest,
    ChaosStopRequest,
    DownRequest,
    JoinRequest,
    ReconcileRequest,
    UpRequest,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ApiError, "description": "No token."},
    403: {"model": ApiError, "description": "Wrong token."},
    404: {"model": ApiError, "description": "No such cluster or service."},
    409: {"model": ApiError, "description": "Another command holds the cluster's lock."},
    422: {"model": ApiError, "description": "A bad value, with Squall's one-line message."},
    500: {"model": ApiError, "description": "The engine or the kernel refused."},
}
FEATURES = {"events": True, "chaos": True, "probe": True}
"""Optional routes: the dashboard shows a control only where its route exists."""

router = APIRouter(prefix="/api", responses=ERRORS)
Name = Annotated[str, "the cluster's name"]
Kernel = Annotated[
    bool | None,
    Query(description="Read the kernel for drift (default: when running as root)."),
]


def _url(name: str) -> str:
    return f"/api/clusters/{name}"


@router.get("/clusters", dependencies=READ, tags=["clusters"])
async def list_clusters(ctx: Context) -> ClusterList:
    """The clusters this server serves (`squall serve -f FILE -p NAME`, `--every-cluster`)."""

    def read() -> ClusterList:
        found = []
        for name in ctx.names():
            spec = ctx.cluster(name).spec
            file = str(spec.source) if spec is not None else None
            found.append(ClusterInfo(name=name, file=file, url=_url(name)))
        return ClusterList(clusters=found)

    return await ctx.run(read)


@router.get("/clusters/{name}", dependencies=READ, tags=["clusters"])
async def overview(ctx: Context, name: Name, kernel: Kernel = None) -> Overview:
    """Everything the dashboard draws: status, networks, shapes, presets, roles."""
    read_kernel = reads_kernel() if kernel is None else kernel

    def read() -> Overview:
        ops = ctx.ops(name)
        holy, neutral = ops.roles()
        spec = ops.session.cluster.spec
        return Overview(
            name=ops.project,
            file=str(spec.source) if spec is not None else None,
            status=ops.status(read_kernel=read_kernel).to_dict(),
            networks=_ops.networks(ops),
            shapes=_ops.shapes(ops),
            presets=_ops.presets(ops),
            holy=sorted(holy),
            neutral=sorted(neutral),
            features=FEATURES,
        )

    return await ctx.run(read)


@router.get("/clusters/{name}/status", dependencies=READ, tags=["clusters"])
async def status(ctx: Context, name: Name, kernel: Kernel = None) -> dict[str, Any]:
    """As `squall status --json`: services, addresses, faults, drift."""
    read_kernel = reads_kernel() if kernel is None else kernel
    return await ctx.run(lambda: ctx.ops(name).status(read_kernel=read_kernel).to_dict())


@router.post("/clusters/{name}/up", dependencies=CHANGE, tags=["clusters"])
async def up(ctx: Context, name: Name, body: UpBody | None = None) -> Changed:
    """`squall up`: create what is missing and start it (needs the cluster file)."""
    request = to_request(body or UpBody(), UpRequest)
    return await ctx.run(lambda: _ops.run(ctx.ops(name), request))


@router.post("/clusters/{name}/down", dependencies=CHANGE, tags=["clusters"])
async def down(ctx: Context, name: Name, body: DownBody | None = None) -> Changed:
    """`squall down`: remove every container, network and rule of the cluster."""
    options = body or DownBody()
    request = DownRequest(volumes=options.volumes, images=options.rmi == "local")
    return await ctx.run(lambda: _ops.run(ctx.ops(name), request))


@router.get("/clusters/{name}/services", dependencies=READ, tags=["services"])
async def list_services(ctx: Context, name: Name) -> list[dict[str, Any]]:
    """Services as the engine sees them (a `missing` row for each one not created)."""
    return await ctx.run(lambda: _ops.services(ctx.ops(name)))


@router.get("/clusters/{name}/services/{service}", dependencies=READ, tags=["services"])
async def get_service(
    ctx: Context, name: Name, service: str, kernel: Kernel = None
) -> dict[str, Any]:
    """One service as in `squall status --json`, with its faults."""
    read_kernel = reads_kernel() if kernel is None else kernel
    return await ctx.run(lambda: _ops.service(ctx.ops(name), service, read_kernel))


@router.post("/clusters/{name}/actions", dependencies=CHANGE, tags=["services"])
async def act(ctx: Context, name: Name, body: ActionBody) -> Changed:
    """`squall start|stop|restart|kill|pause|unpause SERVICE... | --all | --random`."""
    return await ctx.run(lambda: _ops.act(ctx.ops(name), body))


@router.get("/clusters/{name}/networks", dependencies=READ, tags=["services"])
async def list_networks(ctx: Context, name: Name) -> list[dict[str, Any]]:
    """As `squall net ls --json`."""
    return await ctx.run(lambda: _ops.networks(ctx.ops(name)))


@router.get("/clusters/{name}/shapes", dependencies=READ, tags=["faults"])
async def list_shapes(ctx: Context, name: Name) -> dict[str, list[ShapeView]]:
    """The shapes in force, per service."""
    return await ctx.run(lambda: _ops.shapes(ctx.ops(name)))


@router.post("/clusters/{name}/shapes", dependencies=CHANGE, tags=["faults"])
async def add_shape(ctx: Context, name: Name, body: ShapeBody) -> Changed:
    """`squall shape`: add a shape (replacing one with the same peers and ports)."""
    return await ctx.run(lambda: _ops.shape(ctx.ops(name), body))


@router.get("/clusters/{name}/presets", dependencies=READ, tags=["faults"])
async def list_presets(ctx: Context, name: Name) -> dict[str, str]:
    """Blockade's presets with this cluster's values (`x-squall: presets:`)."""
    return await ctx.run(lambda: _ops.presets(ctx.ops(name)))


@router.post("/clusters/{name}/presets/{preset}", dependencies=CHANGE, tags=["faults"])
async def apply_preset(ctx: Context, name: Name, preset: PresetRoute, body: PresetBody) -> Changed:
    """`squall slow|flaky|duplicate|fast`: fast removes every shape of the services."""
    return await ctx.run(lambda: _ops.preset(ctx.ops(name), preset, body))


@router.get("/clusters/{name}/partition", dependencies=READ, tags=["faults"])
async def get_partition(ctx: Context, name: Name) -> dict[str, Any]:
    """The partition in force: its groups and its cuts `[src, dst, one_way]`."""
    return await ctx.run(lambda: ctx.ops(name).partition().to_dict())


@router.put("/clusters/{name}/partition", dependencies=CHANGE, tags=["faults"])
async def set_partition(ctx: Context, name: Name, body: PartitionBody) -> Changed:
    """`squall partition` / `squall isolate`: replaces the partition in force."""
    return await ctx.run(lambda: _ops.partition(ctx.ops(name), body))


@router.delete("/clusters/{name}/partition", dependencies=CHANGE, tags=["faults"])
async def join(ctx: Context, name: Name, dry_run: bool = False) -> Changed:
    """`squall join`: heal every partition (shapes stay)."""
    return await ctx.run(lambda: _ops.run(ctx.ops(name), JoinRequest(dry_run)))


@router.post("/clusters/{name}/reconcile", dependencies=CHANGE, tags=["faults"])
async def reconcile(ctx: Context, name: Name, dry_run: bool = False) -> Changed:
    """`squall reconcile`: the kernel holds the faults in force again, everywhere."""
    return await ctx.run(lambda: _ops.run(ctx.ops(name), ReconcileRequest(dry_run)))


@router.get("/clusters/{name}/probe", dependencies=READ, tags=["probe"])
async def get_probe(ctx: Context, name: Name) -> dict[str, Any]:
    """The latest probe made through the API (404 before the first)."""
    return await ctx.run(lambda: _ops.latest_probe(ctx.ops(name)))


@router.post("/clusters/{name}/probe", dependencies=CHANGE, tags=["probe"])
async def run_probe(ctx: Context, name: Name, body: ProbeBody | None = None) -> dict[str, Any]:
    """`squall probe`: RTT p50/p99 and loss per pair, as `squall probe --json` (needs root)."""
    options = body or ProbeBody()
    return await ctx.run(lambda: _ops.probe(ctx.ops(name), options))


@router.get("/clusters/{name}/events", dependencies=READ, tags=["events"])
async def list_events(
    ctx: Context,
    name: Name,
    since: Annotated[int, Query(ge=0, description="Byte offset from a previous page.")] = 0,
    limit: Annotated[int, Query(ge=0, le=10000)] = 1000,
) -> EventList:
    """The event log: every change by anyone (CLI, API, chaos, timers), oldest first."""
    ctx.check_name(name)
    found, offset = await ctx.run(lambda: _stream.page(ctx.state_dir(name), since, limit))
    return EventList(events=[e.to_dict() for e in found], offset=offset)


@router.get(
    "/clusters/{name}/events/stream",
    dependencies=READ,
    tags=["events"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE stream."}},
)
async def stream_events(
    ctx: Context,
    request: Request,
    name: Name,
    since: Annotated[
        int | None, Query(ge=0, description="Byte offset; default: only new events.")
    ] = None,
    token: Annotated[
        str | None, Query(description="The token, for clients that cannot send headers.")
    ] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-sent events: `hello`, then each event as it is logged (`id`: offset)."""
    del token  # checked by allow_read
    ctx.check_name(name)
    start = since
    if last_event_id is not None and last_event_id.isdigit():
        start = int(last_event_id)
    return StreamingResponse(
        _stream.follow(request, ctx.state_dir(name), start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/clusters/{name}/chaos", dependencies=READ, tags=["chaos"])
async def chaos_status(ctx: Context, name: Name) -> ChaosStatus:
    """Is a chaos run going on this cluster (started here, by the CLI, or detached)?"""

    def read() -> ChaosStatus:
        pid = ctx.ops(name).chaos_running()
        return ChaosStatus(running=pid is not None, pid=pid)

    return await ctx.run(read)


@router.post("/clusters/{name}/chaos", dependencies=CHANGE, tags=["chaos"])
async def chaos_start(ctx: Context, name: Name, body: ChaosBody | None = None) -> ChaosStatus:
    """`squall chaos --detach`: start a seeded run in the background (409 if one runs)."""
    request = to_request(body or ChaosBody(), ChaosRequest)

    def start() -> ChaosStatus:
        result = ctx.ops(name).run(request)
        return ChaosStatus(running=True, pid=result.pid, seed=result.seed)

    return await ctx.run(start)


@router.delete("/clusters/{name}/chaos", dependencies=CHANGE, tags=["chaos"])
async def chaos_stop(ctx: Context, name: Name) -> ChaosStatus:
    """`squall chaos stop`: end the run; it heals everything it did."""

    def stop() -> ChaosStatus:
        ctx.ops(name).run(ChaosStopRequest())
        return ChaosStatus(running=False)

    return await ctx.run(stop)


__all__ = ["FEATURES", "router"]
