"""The routes' side of the operations layer: bodies into requests, results into JSON.

Both Squall's routes and Blockade's call these, in a worker thread. Checking and
running a request is `squall.ops`'s work, the same as for the CLI, so a bad request
changes nothing here either.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from squall import events
from squall.api import _models as models
from squall.atomic import write_atomic
from squall.errors import ServiceNotFound
from squall.ops.operations import Operations
from squall.ops.requests import (
    ActionRequest,
    ChangeRequest,
    PartitionRequest,
    PresetRequest,
    ProbeRequest,
    ShapeRequest,
)
from squall.ops.results import Result
from squall.probe import DEFAULT_THROUGHPUT_SECONDS
from squall.runtime.base import Action

PROBE_FILE = "probe-latest.json"
"""The latest probe made through the API, kept for the dashboard's heat map."""


def changed(result: Result) -> models.Changed:
    return models.Changed(
        what=result.what,
        services=list(result.services),
        message=result.message,
        dry_run=result.dry_run,
        plan=result.plan,
        notes=result.notes,
    )


def run(ops: Operations, request: ChangeRequest) -> models.Changed:
    return changed(ops.run(request))


def act(ops: Operations, body: models.ActionBody) -> models.Changed:
    request = ActionRequest(Action(body.action), models.targets_of(body), body.signal)
    return run(ops, request)


def shape(ops: Operations, body: models.ShapeBody) -> models.Changed:
    return run(
        ops, ShapeRequest(models.targets_of(body), models.shape_fields_of(body), body.dry_run)
    )


def preset(ops: Operations, name: models.PresetRoute, body: models.PresetBody) -> models.Changed:
    return run(ops, PresetRequest(name, models.targets_of(body), body.dry_run))


def partition(ops: Operations, body: models.PartitionBody) -> models.Changed:
    return run(ops, models.to_request(body, PartitionRequest))


def probe(ops: Operations, body: models.ProbeBody) -> dict[str, Any]:
    request = ProbeRequest(
        tuple(body.services),
        count=body.count,
        timeout=body.timeout,
        throughput_seconds=DEFAULT_THROUGHPUT_SECONDS if body.throughput else None,
    )
    report = ops.probe(request).to_dict()
    report["time"] = events.utc_now()
    write_atomic(ops.session.state.ensure() / PROBE_FILE, json.dumps(report), mode=0o600)
    return report


def latest_probe(ops: Operations) -> dict[str, Any]:
    try:
        found = json.loads((ops.session.state.path / PROBE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        raise NoProbe(f"no probe of cluster {ops.project!r} yet; POST one to this route") from None
    assert isinstance(found, dict)
    return found


class NoProbe(ServiceNotFound):
    """No probe was made through the API yet (404)."""


def shapes(ops: Operations) -> dict[str, list[models.ShapeView]]:
    """The shapes in force per service, with their peers (the dashboard draws links)."""
    return {
        service: [
            models.ShapeView(
                description=entry.describe(),
                origin=entry.origin,
                to_services=list(entry.to_services),
                shape=entry.shape.to_dict(),
            )
            for entry in entries
        ]
        for service, entries in ops.shapes().items()
    }


def presets(ops: Operations) -> dict[str, str]:
    found = ops.presets()
    return {name: str(getattr(found, name)) for name in ("slow", "flaky", "duplicate")}


def networks(ops: Operations) -> list[dict[str, Any]]:
    return [dataclasses.asdict(n) for n in ops.networks()]


def services(ops: Operations) -> list[dict[str, Any]]:
    return [dataclasses.asdict(s) for s in ops.services()]


def service(ops: Operations, name: str, read_kernel: bool) -> dict[str, Any]:
    ops.session.select_services([name])
    report = ops.status(read_kernel=read_kernel).to_dict()
    for entry in report["services"]:
        if entry["service"] == name:
            assert isinstance(entry, dict)
            return entry
    raise ServiceNotFound(f"service {name!r} has no container; run squall up", service=name)


__all__ = [
    "act",
    "changed",
    "latest_probe",
    "networks",
    "partition",
    "preset",
    "presets",
    "probe",
    "run",
    "service",
    "services",
    "shape",
    "shapes",
]
