"""The operations layer on an in-memory backend: requests checked, run and worded once."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from squall.api._models import ChaosBody, PartitionBody, ShapeBody
from squall.cli import chaos as cli_chaos
from squall.cli import faults as cli_faults
from squall.errors import ServiceNotFound, UsageError
from squall.faults.model import Partition
from squall.ops.fields import SHAPE_FIELDS, ShapeFields, fields_of
from squall.ops.opening import Where
from squall.ops.operations import Operations
from squall.ops.requests import (
    ActionRequest,
    ChaosRequest,
    HealRequest,
    JoinRequest,
    PartitionRequest,
    PresetRequest,
    RestoreRequest,
    ShapeRequest,
    Targets,
    UpRequest,
)
from squall.runtime.base import Action
from tests.unit.fakes import FakeBackend

COMPOSE = """\
name: trio
services:
  a: {image: squall/busybox}
  b: {image: squall/busybox}
  c: {image: squall/busybox}
x-squall:
  holy: [c]
"""


@pytest.fixture
def ops(tmp_path: Path) -> Operations:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    where = Where.of_file(tmp_path / "compose.yaml", state_root=tmp_path / "state")
    found = Operations.open(where, backend=FakeBackend())
    found.run(UpRequest())
    return found


def test_a_shape_request_is_parsed_checked_run_and_worded(ops: Operations) -> None:
    fields: ShapeFields = {"delay": "100ms", "to": ["b"], "duration": "30s"}
    result = ops.run(ShapeRequest(Targets(("a",)), fields))
    assert result.message == "shaped a: delay 100ms (egress) to b for 30s"
    assert result.services == ("a",) and not result.dry_run and result.plan == []
    assert [e.to_services for e in ops.shapes()["a"]] == [("b",)]
    assert [e.what for e in ops.events()][-1] == "shape"


def test_a_dry_run_changes_nothing_and_logs_nothing(ops: Operations) -> None:
    result = ops.run(ShapeRequest(Targets(("a",)), {"loss": "20%"}, dry_run=True))
    assert result.dry_run and result.message == "shaped a: loss 20% (egress)"
    assert ops.shapes() == {}
    assert [e.what for e in ops.events()] == ["up"]


def test_bad_requests_change_nothing_and_say_why_in_one_line(ops: Operations) -> None:
    with pytest.raises(UsageError, match="--delay"):
        ops.run(ShapeRequest(Targets(("a",)), {"delay": "soon"}))
    with pytest.raises(ServiceNotFound, match="'nope'"):
        ops.run(PartitionRequest(groups=(("a",), ("nope",))))
    with pytest.raises(ServiceNotFound, match="'nope'"):
        ops.run(PartitionRequest(isolate=("nope",)))
    with pytest.raises(UsageError, match="exclude each other"):
        ops.run(PartitionRequest(groups=(("a",),), isolate=("b",)))
    with pytest.raises(UsageError, match="exclude each other"):
        ops.run(PresetRequest("slow", Targets(("a",), all=True)))
    with pytest.raises(UsageError, match="only for the kill"):
        ops.run(ActionRequest(Action.STOP, Targets(("a",)), signal="SIGTERM"))
    with pytest.raises(UsageError, match="--duration"):
        ops.plan_chaos(ChaosRequest(duration="0s"))
    assert [e.what for e in ops.events()] == ["up"]
    assert not ops.partition() and ops.shapes() == {}


def test_partitions_keep_holy_services_and_return_what_was_made(ops: Operations) -> None:
    result = ops.run(PartitionRequest(groups=(("a",), ("b",))))
    assert result.partition is not None and result.partition == ops.partition()
    assert result.message == "partition (groups): a | b"
    assert "c" not in {s for cut in result.partition.cuts for s in (cut.src, cut.dst)}
    with pytest.raises(UsageError, match="holy"):
        ops.run(PartitionRequest(isolate=("c",)))
    assert ops.run(JoinRequest()).message == "joined: every service reaches every other"
    assert not ops.partition()


def test_restore_puts_back_what_was_in_force(ops: Operations) -> None:
    ops.run(PartitionRequest(groups=(("a",), ("b",))))
    before = ops.partition()
    ops.run(PartitionRequest(isolate=("b",)))
    ops.run(RestoreRequest(partition=before))
    assert ops.partition() == before
    ops.run(RestoreRequest(partition=Partition()))
    assert not ops.partition()


def test_heal_starts_stopped_and_unpauses_paused_services(ops: Operations) -> None:
    ops.run(ActionRequest(Action.STOP, Targets(("a",))))
    ops.run(ActionRequest(Action.PAUSE, Targets(("b",))))
    ops.run(PresetRequest("flaky", Targets(all=True)))
    ops.run(HealRequest())
    assert {s.service: s.state for s in ops.services()} == {
        "a": "running",
        "b": "running",
        "c": "running",
    }
    assert ops.shapes() == {}


def test_long_lists_are_summarised_in_messages(tmp_path: Path) -> None:
    names = [f"s{i:02d}" for i in range(30)]
    (tmp_path / "compose.yaml").write_text(
        "name: many\nservices:\n" + "".join(f"  {n}: {{image: x}}\n" for n in names)
    )
    where = Where.of_file(tmp_path / "compose.yaml", state_root=tmp_path / "state")
    ops = Operations.open(where, backend=FakeBackend())
    ops.run(UpRequest())
    message = ops.run(PresetRequest("fast", Targets(all=True))).message
    assert message.startswith("fast: s00, s01") and message.endswith("(20 more)")


def test_shape_fields_are_declared_once_for_every_front_end() -> None:
    """The CLI's flags and the API's body fields come from `ShapeFields`."""
    declared = [f.name for f in SHAPE_FIELDS]
    assert declared == list(ShapeFields.__annotations__)
    flags = {p.name for p in cli_faults.shape.params if isinstance(p, click.Option)}
    assert set(declared) <= flags
    assert set(declared) <= set(ShapeBody.model_fields)
    loss_correlation = next(p for p in cli_faults.shape.params if p.name == "loss_correlation")
    assert loss_correlation.opts == ["--loss-correlation"]


def test_partition_and_chaos_bodies_follow_their_requests() -> None:
    assert set(PartitionBody.model_fields) == {f.name for f in fields_of(PartitionRequest)}
    chaos_fields = {f.name for f in fields_of(ChaosRequest)}
    assert set(ChaosBody.model_fields) == chaos_fields
    flags = {p.name for p in cli_chaos.chaos.params}
    assert chaos_fields <= flags
    assert ChaosBody().model_dump()["at_once"] == ChaosRequest().at_once


def test_derived_flags_keep_their_types() -> None:
    seed = next(p for p in cli_chaos.chaos.params if p.name == "seed")
    assert seed.type.name == "integer"
    distribution = next(p for p in cli_faults.shape.params if p.name == "distribution")
    assert isinstance(distribution.type, click.Choice) and "normal" in distribution.type.choices


def test_up_some_services_names_what_it_brings_up(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x}\n  c: {image: x}\n"
    )
    where = Where.of_file(tmp_path / "compose.yaml", state_root=tmp_path / "state")
    ops = Operations.open(where, backend=FakeBackend())
    assert ops.run(UpRequest(services=("a",))).services == ("a", "b")
    assert ops.run(UpRequest(services=("a",), no_deps=True)).services == ("a",)
    with pytest.raises(UsageError, match="--no-deps needs the services"):
        ops.run(UpRequest(no_deps=True))
    with pytest.raises(ServiceNotFound, match="no service 'd' enabled"):
        ops.run(UpRequest(services=("d",)))
