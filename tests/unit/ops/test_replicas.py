"""Replicas as targets: `api` is every replica, `api-2` one, `--random` draws replicas,
partitions cut members. On the in-memory backend, and the kernel plan they resolve to."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from squall.errors import ServiceNotFound
from squall.faults.desired import DesiredFaults
from squall.faults.partition import groups_partition
from squall.faults.resolve import resolve
from squall.ops.opening import Where
from squall.ops.operations import Operations
from squall.ops.requests import (
    ActionRequest,
    ChaosRequest,
    PartitionRequest,
    PresetRequest,
    ShapeRequest,
    Targets,
    UpRequest,
)
from squall.runtime.base import Action, NetworkAddress, ServiceState
from squall.runtime.members import canonical, expand, members_of
from tests.unit.fakes import FakeBackend

COMPOSE = """\
name: rep
services:
  api:
    image: squall/busybox
    deploy: {replicas: 3}
  db: {image: squall/busybox}
"""


@pytest.fixture
def ops(tmp_path: Path) -> Operations:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    where = Where.of_file(tmp_path / "compose.yaml", state_root=tmp_path / "state")
    found = Operations.open(where, backend=FakeBackend())
    found.run(UpRequest())
    return found


def test_status_lists_each_replica_under_its_member_name(ops: Operations) -> None:
    assert [(s.service, s.member, s.container) for s in ops.services()] == [
        ("api", "api-1", "rep-api-1"),
        ("api", "api-2", "rep-api-2"),
        ("api", "api-3", "rep-api-3"),
        ("db", "db", "rep-db-1"),
    ]


def test_one_replica_or_all_of_them(ops: Operations) -> None:
    ops.run(ActionRequest(Action.STOP, Targets(("api-2",))))
    assert {s.member: s.state for s in ops.services()} == {
        "api-1": "running",
        "api-2": "exited",
        "api-3": "running",
        "db": "running",
    }
    ops.run(ActionRequest(Action.STOP, Targets(("api",))))
    assert {s.state for s in ops.services() if s.service == "api"} == {"exited"}
    # Compose's container number names the one container of a service too.
    assert ops.run(PresetRequest("slow", Targets(("db-1",)))).services == ("db",)
    with pytest.raises(ServiceNotFound, match="services: api-1, api-2, api-3, db"):
        ops.run(PresetRequest("slow", Targets(("api-4",))))


def test_shapes_hold_for_the_service_or_for_one_replica(ops: Operations) -> None:
    ops.run(ShapeRequest(Targets(("api-2",)), {"loss": "10%", "to": ["db"]}))
    ops.run(ShapeRequest(Targets(("db",)), {"delay": "5ms", "to": ["api-3"]}))
    assert sorted(ops.shapes()) == ["api-2", "db"]
    assert [e.to_services for e in ops.shapes()["db"]] == [("api-3",)]


def test_the_container_name_of_a_one_container_service_is_that_service(ops: Operations) -> None:
    ops.run(ShapeRequest(Targets(("api-1",)), {"delay": "5ms", "to": ["db-1"]}))
    assert [e.to_services for e in ops.shapes()["api-1"]] == [("db",)]
    resolved = resolve(DesiredFaults.load(ops.session.state.path), STATES, "t", "rep")
    (shape,) = next(r for r in resolved if r.service.member == "api-1").faults.shapes
    assert shape.selector.peers == ("10.0.0.5/32",)


def test_chaos_draws_replicas_one_by_one(ops: Operations) -> None:
    plan = ops.plan_chaos(ChaosRequest(duration="10m", events="stop", seed=7))
    assert plan.services == ("api-1", "api-2", "api-3", "db")
    stopped = {t for r in plan.rounds for f in r.faults for t in f.targets}
    assert stopped and stopped <= {"api-1", "api-2", "api-3", "db"}


def test_random_draws_replicas(ops: Operations) -> None:
    ops.rng = random.Random(4)
    drawn = {ops.select(Targets(random=True))[0] for _ in range(40)}
    assert drawn == {"api-1", "api-2", "api-3", "db"}


def test_a_partition_cuts_members_and_the_rest_keeps_the_other_replicas(
    ops: Operations,
) -> None:
    one = ops.run(PartitionRequest(groups=(("api-2",),)))
    assert one.partition is not None
    assert one.partition.groups == (("api-2",), ("api-1", "api-3", "db"))
    whole = ops.run(PartitionRequest(groups=(("api",), ("db",))))
    assert whole.partition is not None
    assert whole.partition.groups == (("api-1", "api-2", "api-3"), ("db",))
    alone = ops.run(PartitionRequest(isolate=("api",)))
    assert alone.partition is not None and alone.partition.kind == "isolate"
    assert alone.partition.groups == (("api-1", "api-2", "api-3"), ("db",))


def _state(service: str, replica: int | None, ip: str) -> ServiceState:
    return ServiceState(
        service=service,
        container=f"rep-{service}-{replica or 1}",
        id=ip,
        state="running",
        addresses=(NetworkAddress("default", ip, 24),),
        netns=f"/proc/{ip.rsplit('.', 1)[1]}/ns/net",
        replica=replica,
    )


STATES = [
    _state("api", 1, "10.0.0.2"),
    _state("api", 2, "10.0.0.3"),
    _state("api", 3, "10.0.0.4"),
    _state("db", None, "10.0.0.5"),
]


def test_a_cut_of_one_replica_drops_only_its_packets() -> None:
    desired = DesiredFaults().with_partition(
        groups_partition([["api-2"], ["api-1", "api-3", "db"]])
    )
    blocks = {r.service.member: r.faults.blocks.ingress for r in resolve(desired, STATES, "t", "p")}
    assert blocks == {
        "api-1": ("10.0.0.3/32",),
        "api-2": ("10.0.0.2/32", "10.0.0.4/32", "10.0.0.5/32"),
        "api-3": ("10.0.0.3/32",),
        "db": ("10.0.0.3/32",),
    }


def test_a_cut_of_the_service_name_holds_for_every_replica() -> None:
    """A partition recorded by service name (before a scale-up) covers the new ones."""
    desired = DesiredFaults().with_partition(groups_partition([["api"], ["db"]]))
    blocks = {r.service.member: r.faults.blocks.ingress for r in resolve(desired, STATES, "t", "p")}
    assert blocks["db"] == ("10.0.0.2/32", "10.0.0.3/32", "10.0.0.4/32")
    assert blocks["api-3"] == ("10.0.0.5/32",)


def test_member_names() -> None:
    members = members_of(["api", "db", "web"], STATES)
    assert members == {"api": ("api-1", "api-2", "api-3"), "db": ("db",), "web": ("web",)}
    assert [canonical(n, members) for n in ("api", "api-2", "db-1", "api-9", "web-1")] == [
        "api",
        "api-2",
        "db",
        None,
        "web",
    ]
    assert expand(["api", "db-1", "api-2"], members) == ["api-1", "api-2", "api-3", "db"]
