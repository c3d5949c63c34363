"""Faults as a user writes them become faults as data, or a one-line error."""

from __future__ import annotations

import pytest

from squall.errors import UsageError
from squall.ops.parsing import build_shape


def test_shape_builder_is_shared_and_checks_values() -> None:
    request = build_shape(
        {"delay": "50ms", "loss": "10%", "to": ["b,10.0.0.0/8"], "port": "80"},
        known_services=["a", "b"],
    )
    assert request.to_services == ("b",)
    assert request.shape.selector.peers == ("10.0.0.0/8",)
    assert str(request.shape.delay) == "50ms"
    with pytest.raises(UsageError, match="--delay"):
        build_shape({"delay": "fast"}, known_services=[])
    with pytest.raises(UsageError, match="--duration"):
        build_shape({"delay": "1ms", "duration": "0s"}, known_services=[])
    with pytest.raises(UsageError, match="--duration 99999999999999999999h: at most 366 days"):
        build_shape({"delay": "1ms", "duration": "99999999999999999999h"}, known_services=[])
    with pytest.raises(UsageError, match=r"--loss 0\.00000001%: must be 0 or at least 0\.0000001%"):
        build_shape({"loss": "0.00000001%"}, known_services=[])
