"""No chaos option, however odd, gets anything but a one-line Squall error."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from squall.chaos import plan as chaos_plan
from squall.errors import SquallError
from squall.ops.opening import Where
from squall.ops.operations import Operations
from squall.ops.requests import ChaosRequest, UpRequest
from tests.unit.fakes import FakeBackend

COMPOSE = """\
name: quad
services:
  a: {image: squall/busybox}
  b: {image: squall/busybox}
  c: {image: squall/busybox}
  db: {image: squall/busybox}
x-squall:
  holy: [db]
"""

UNITS = st.sampled_from(["us", "ms", "s", "m", "h", "", "d", "ns"])
NUMBERS = st.one_of(
    st.integers(min_value=-5, max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "0.0", "1e9", "1e400", "-0", ".5", "5.", "9" * 400]),
)
DURATIONS = st.one_of(st.builds(lambda n, u: n + u, NUMBERS, UNITS), st.text(max_size=12))
SPANS = st.one_of(
    DURATIONS, st.builds(lambda lo, hi: f"{lo}..{hi}", DURATIONS, DURATIONS), st.text(max_size=12)
)
COUNTS = st.one_of(
    st.builds(lambda lo, hi: f"{lo}..{hi}", st.integers(-3, 10**12), st.integers(-3, 10**12)),
    st.integers(-3, 10**40).map(str),
    st.text(max_size=8),
)
KINDS = st.one_of(
    st.lists(st.sampled_from([*chaos_plan.KINDS, "meteor", ""]), max_size=5).map(",".join),
    st.text(max_size=10),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    duration=DURATIONS,
    seed=st.one_of(st.none(), st.integers(-(2**70), 2**70)),
    events=KINDS,
    interval=SPANS,
    hold=SPANS,
    at_once=COUNTS,
)
def test_every_chaos_option_plans_or_says_why(
    ops: Operations,
    duration: str,
    seed: int | None,
    events: str,
    interval: str,
    hold: str,
    at_once: str,
) -> None:
    request = ChaosRequest(duration, seed, events, interval, hold, at_once)
    try:
        plan = ops.plan_chaos(request, seed=1)
    except SquallError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert plan.rounds or plan.duration > 0
    for rnd in plan.rounds:
        assert rnd.at + rnd.hold <= plan.duration + 1e-6
        assert all("db" not in f.targets for f in rnd.faults)


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Operations:
    folder = tmp_path_factory.mktemp("chaos-options")
    (folder / "compose.yaml").write_text(COMPOSE)
    where = Where.of_file(folder / "compose.yaml", state_root=folder / "state")
    found = Operations.open(where, backend=FakeBackend())
    found.run(UpRequest())
    return found
