"""The session logs every change, in order, with who made it and how it went."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from squall import events
from squall.errors import ChaosError, ServiceNotFound
from squall.events import Actor
from squall.ops.parsing import build_partition, build_shape
from squall.session import ClusterRef, Session
from squall.spec.loader import load_cluster
from tests.unit.fakes import FakeBackend

COMPOSE = """\
name: trio
services:
  a: {image: squall/busybox}
  b: {image: squall/busybox}
  c: {image: squall/busybox}
"""


@pytest.fixture
def session(tmp_path: Path) -> Session:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    spec = load_cluster(tmp_path / "compose.yaml")
    return Session.create(
        ClusterRef(spec.name, spec), FakeBackend(), tmp_path / "state", actor=Actor("api")
    )


def test_every_change_is_one_line_in_order_with_who_and_result(session: Session) -> None:
    session.up()
    request = build_shape({"delay": "100ms", "to": ["b"]}, known_services=["a", "b", "c"])
    session.shape(["a"], request.shape, to_services=request.to_services)
    session.partition(build_partition([["a"], ["b", "c"]], services=["a", "b", "c"]))
    session.join()
    session.fast(["a"])
    with pytest.raises(ServiceNotFound):  # refused before anything changes: not logged
        session.shape(["a"], request.shape, to_services=("nope",))
    lines = (session.state.path / events.EVENTS_FILE).read_text().splitlines()
    logged = [json.loads(line) for line in lines]
    assert [e["what"] for e in logged] == ["up", "shape", "partition", "join", "fast"]
    assert {e["who"] for e in logged} == {"api"} and all(e["result"] == "ok" for e in logged)
    assert logged[1]["targets"] == ["a"] and logged[1]["values"]["to"] == ["b"]
    assert logged[1]["values"]["shape"]["delay"] == "100ms"
    assert [e["time"] for e in logged] == sorted(e["time"] for e in logged)
    assert "partition (groups): a | b,c" in events.read(session.events_path())[2].describe()


def test_a_failed_change_is_logged_with_its_error(session: Session) -> None:
    session.up()

    def broken(*args: object, **kwargs: object) -> None:
        raise ChaosError("engine said no")

    session.backend.act = broken  # type: ignore[method-assign]
    from squall.runtime.base import Action

    with pytest.raises(ChaosError):
        session.act(["a"], Action.STOP)
    last = session.events()[-1]
    assert (last.what, last.result, last.error) == ("stop", "error", "engine said no")
    assert "ERROR: engine said no" in last.describe()


def test_dry_runs_are_not_logged_and_down_keeps_the_log(session: Session) -> None:
    session.up()
    session.join(dry_run=True)
    session.down()
    assert not session.state.path.exists()
    assert [e.what for e in session.events()] == ["up", "down"]
