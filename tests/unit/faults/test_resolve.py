"""Faults meant for a container on another kernel are refused, never entered by pid."""

from __future__ import annotations

import pytest

from squall.errors import FaultUnsupported
from squall.faults.desired import DesiredFaults, ShapeEntry
from squall.faults.model import Shape
from squall.faults.partition import isolate
from squall.faults.resolve import resolve
from squall.runtime.base import NetworkAddress, ServiceState
from squall.units import parse_duration


def _state(name: str, ip: str, *, here: bool) -> ServiceState:
    return ServiceState(
        service=name,
        container=f"p-{name}-1",
        id=f"{name:0>12}",
        state="running",
        addresses=(NetworkAddress("default", ip, 24),),
        pid=100,
        netns="/proc/100/ns/net" if here else None,
        host="h1" if here else "h2",
        elsewhere=not here,
    )


SERVICES = [_state("a", "10.0.1.2", here=True), _state("b", "10.0.1.4", here=False)]
SLOW = ShapeEntry(Shape(delay=parse_duration("100ms")), to_services=("b",))


def test_faults_on_this_kernel_only_are_planned() -> None:
    resolved = resolve(DesiredFaults().with_shape("a", SLOW), SERVICES, "sq0123ab", "p")
    assert [r.service.service for r in resolved] == ["a"]
    assert resolved[0].faults.shapes[0].selector.peers == ("10.0.1.4/32",)


def test_faults_for_a_container_elsewhere_are_refused_naming_it() -> None:
    desired = DesiredFaults().with_partition(isolate("b", ["a", "b"]))
    with pytest.raises(FaultUnsupported) as caught:
        resolve(desired, SERVICES, "sq0123ab", "p")
    assert "service 'b' runs on host 'h2'" in str(caught.value)
