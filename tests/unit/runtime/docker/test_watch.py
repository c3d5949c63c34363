"""Which Engine events the watcher acts on (the events as Engine 20.10 sends them)."""

from __future__ import annotations

from typing import Any

from squall.runtime.base import ServiceChange
from squall.runtime.docker.watch import container_change, network_container


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
