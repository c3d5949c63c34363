"""What each change does, as the CLI does it: blocking calls on a `Session`.

Both Squall's routes and Blockade's call these, in a worker thread. Everything a
request says is parsed and checked (services, durations, groups) before the session
changes anything, so a bad request changes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import secrets
from collections.abc import Sequence
from typing import Any

from squall import chaos, events
from squall.api._models import (
    ActionBody,
    Changed,
    ChaosBody,
    ChaosStatus,
    PartitionBody,
    PresetBody,
    PresetRoute,
    ProbeBody,
    ShapeBody,
    ShapeView,
    Targets,
)
from squall.errors import ServiceNotFound, UsageError
from squall.faults.controller import PlannedNamespace
from squall.faults.request import (
    build_isolation,
    build_partition,
    build_shape,
    describe_partition,
)
from squall.probe import DEFAULT_THROUGHPUT_SECONDS
from squall.runtime.base import Action
from squall.session import Session
from squall.units import parse_duration


def chosen(session: Session, targets: Targets) -> list[str]:
    return session.select_services(
        targets.services,
        all_services=targets.all,
        pick_random=targets.random,
        rng=random.Random(),
    )


def _changed(
    what: str,
    services: Sequence[str],
    message: str,
    planned: Sequence[PlannedNamespace],
    dry_run: bool,
) -> Changed:
    return Changed(
        what=what,
        services=list(services),
        message=message,
        dry_run=dry_run,
        plan=[p.plan.render() for p in planned] if dry_run else [],
        notes=[f"{p.service}: {note}" for p in planned for note in p.resolved.notes],
    )


def act(session: Session, body: ActionBody) -> Changed:
    action = Action(body.action)
    if body.signal is not None and action is not Action.KILL:
        raise UsageError("signal is only for the kill action")
    services = chosen(session, body)
    signal = (body.signal or "SIGKILL") if action is Action.KILL else None
    session.act(services, action, signal=signal)
    return Changed(what=str(action), services=services, message=f"{action}: {', '.join(services)}")


def shape(session: Session, body: ShapeBody) -> Changed:
    request = build_shape(
        known_services=session.known_services(),
        delay=body.delay,
        jitter=body.jitter,
        distribution=body.distribution,
        correlation=body.correlation,
        loss=body.loss,
        loss_correlation=body.loss_correlation,
        rate=body.rate,
        duplicate=body.duplicate,
        corrupt=body.corrupt,
        reorder=body.reorder,
        to=body.to,
        port=body.port,
        proto=body.proto,
        direction=body.direction,
        duration=body.duration,
    )
    services = chosen(session, body)
    planned = session.shape(
        services, request.shape, to_services=request.to_services, dry_run=body.dry_run
    )
    target = f" to {','.join(request.to_services)}" if request.to_services else ""
    until = f" for {body.duration}" if body.duration else ""
    message = f"shaped {', '.join(services)}: {request.shape}{target}{until}"
    return _changed("shape", services, message, planned, body.dry_run)


def preset(session: Session, name: PresetRoute, body: PresetBody) -> Changed:
    services = chosen(session, body)
    if name == "fast":
        planned = session.fast(services, dry_run=body.dry_run)
        return _changed("fast", services, f"fast: {', '.join(services)}", planned, body.dry_run)
    planned = session.preset(name, services, dry_run=body.dry_run)
    message = f"{name}: {', '.join(services)} ({getattr(session.presets(), name)})"
    return _changed(name, services, message, planned, body.dry_run)


def _check_known(session: Session, names: Sequence[str], known: Sequence[str]) -> None:
    for name in names:
        if name not in known:
            raise ServiceNotFound(
                f"no service {name!r} in cluster {session.project!r}; services: {', '.join(known)}",
                service=name,
            )


def partition(session: Session, body: PartitionBody) -> Changed:
    known = session.known_services()
    holy, neutral = session.roles()
    _check_known(session, [n for group in body.groups for n in group], known)
    if body.isolate:
        if body.groups or body.one_way or body.random or body.shape is not None:
            raise UsageError("give isolate alone, without groups, one_way, random or shape")
        _check_known(session, body.isolate, known)
        cut = build_isolation(body.isolate, known=known, holy=holy, neutral=neutral)
    else:
        cut = build_partition(
            body.groups,
            services=known,
            holy=holy,
            neutral=neutral,
            one_way_cut=body.one_way,
            pick_random=body.random,
            jepsen_shape=body.shape,
            seed=body.seed,
        )
    planned = session.partition(cut, dry_run=body.dry_run)
    touched = sorted({s for c in cut.cuts for s in (c.src, c.dst)})
    return _changed("partition", touched, describe_partition(cut), planned, body.dry_run)


def join(session: Session, dry_run: bool) -> Changed:
    planned = session.join(dry_run=dry_run)
    return _changed("join", [], "joined: every service reaches every other", planned, dry_run)


PROBE_FILE = "probe-latest.json"
"""The latest probe made through the API, kept for the dashboard's heat map."""


def probe(session: Session, body: ProbeBody) -> dict[str, Any]:
    report = session.probe(
        body.services,
        count=body.count,
        timeout=body.timeout,
        throughput_seconds=DEFAULT_THROUGHPUT_SECONDS if body.throughput else None,
    ).to_dict()
    report["time"] = events.utc_now()
    path = session.state.ensure() / PROBE_FILE
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(report, out)
    os.replace(temporary, path)
    return report


def latest_probe(session: Session) -> dict[str, Any]:
    try:
        found = json.loads((session.state.path / PROBE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        raise NoProbe(
            f"no probe of cluster {session.project!r} yet; POST one to this route"
        ) from None
    assert isinstance(found, dict)
    return found


class NoProbe(ServiceNotFound):
    """No probe was made through the API yet (404)."""


def shapes(session: Session) -> dict[str, list[ShapeView]]:
    """The shapes in force per service, with their peers (the dashboard draws links)."""
    desired = session.desired_faults()
    return {
        service: [
            ShapeView(
                description=entry.describe(),
                origin=entry.origin,
                to_services=list(entry.to_services),
                shape=entry.shape.to_dict(),
            )
            for entry in entries
        ]
        for service, entries in sorted(desired.shapes.items())
        if entries
    }


def presets(session: Session) -> dict[str, str]:
    found = session.presets()
    return {name: str(getattr(found, name)) for name in ("slow", "flaky", "duplicate")}


def networks(session: Session) -> list[dict[str, Any]]:
    return [dataclasses.asdict(n) for n in session.networks()]


def services(session: Session) -> list[dict[str, Any]]:
    return [dataclasses.asdict(s) for s in session.status()]


def service(session: Session, name: str, read_kernel: bool) -> dict[str, Any]:
    session.select_services([name])
    report = session.cluster_status(read_kernel=read_kernel).to_dict()
    for entry in report["services"]:
        if entry["service"] == name:
            assert isinstance(entry, dict)
            return entry
    raise ServiceNotFound(f"service {name!r} has no container; run squall up", service=name)


def start_chaos(session: Session, backend_name: str, options: ChaosBody) -> ChaosStatus:
    """Check every option first (422 changes nothing), then start a detached run."""
    chaos.parse_span(options.interval, "interval")
    chaos.parse_span(options.hold, "hold")
    chaos.parse_count_span(options.at_once, "at_once")
    chaos.parse_kinds(options.events)
    parse_duration(options.duration, "duration")
    seed = options.seed if options.seed is not None else secrets.randbelow(2**31)
    pid = chaos.start_detached(
        session, backend_name, seed, options.duration, options.events,
        options.interval, options.hold, options.at_once,
    )  # fmt: skip
    return ChaosStatus(running=True, pid=pid, seed=seed)


__all__ = [
    "act",
    "chosen",
    "join",
    "latest_probe",
    "networks",
    "partition",
    "preset",
    "presets",
    "probe",
    "service",
    "services",
    "shape",
    "shapes",
    "start_chaos",
]
