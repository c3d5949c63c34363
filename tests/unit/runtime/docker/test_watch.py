"""Which Engine events the watcher acts on (the events as Engine 20.10 sends them)."""

from __future__ import annotations

from typing import Any

import pytest

from squall.errors import EngineUnavailable
from squall.runtime.base import ServiceChange
from squall.runtime.docker.watch import container_change, network_container
from tests.unit.runtime.docker.conftest import Fake
from tests.unit.runtime.docker.test_backend import CLUSTER, IMAGE


def event(kind: str, action: str, **attributes: str) -> dict[str, Any]:
    return {
        "Type": kind,
        "Action": action,
        "Actor": {"ID": "f00", "Attributes": attributes},
        "time": 1796000000,
        "timeNano": 1796000000123456789,
    }


OURS = {"io.squall.project": "shop", "io.squall.service": "db", "name": "shop-db-1"}


def test_a_start_of_our_container_is_a_change_of_its_service() -> None:
    assert container_change(event("container", "start", **OURS), "shop") == ServiceChange(
        "db", "start", 1796000000.1234567
    )
    assert container_change(event("container", "start", **OURS), "other") is None
    assert container_change(event("container", "die", **OURS), "shop") is None
    assert container_change(event("container", "start", name="x"), "shop") is None


def test_network_events_name_only_the_container() -> None:
    connected = event("network", "connect", container="abc123", name="shop_default")
    assert network_container(connected) == "abc123"
    assert container_change(connected, "shop") is None
    assert network_container(event("network", "create", name="n")) is None
    assert network_container(event("container", "start", **OURS)) is None


def test_the_backend_follows_the_stream_and_says_when_the_engine_closes_it(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    fake.backend.up(CLUSTER)
    api = fake.engine.find_container("proj-api-1")
    assert api is not None
    theirs = {**OURS, "io.squall.project": "other"}
    fake.engine.events = [
        event("container", "start", **{**OURS, "io.squall.project": "proj"}),
        event("container", "start", **theirs),
        event("network", "connect", container=str(api["Id"]), name="proj_back"),
    ]
    stream = fake.backend.watch("proj", since=1796000000.5)
    assert next(stream) == ServiceChange("db", "start", 1796000000.1234567)
    assert next(stream) == ServiceChange("api", "connect", 1796000000.1234567)
    with pytest.raises(EngineUnavailable, match="closed its event stream"):
        next(stream)
    asked = [r for r in fake.engine.requests if r.path == "/events"]
    assert asked[0].query["since"] == ["1796000000.500000000"]
