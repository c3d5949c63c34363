"""Blockade's chaos options: Blockade's keys, Blockade's meaning, Blockade's refusals."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from squall.chaos.plan import parse_count_span, parse_seconds, parse_span
from squall.ops.blockade import BlockadeChaosOptions, ChaosOptionError


def test_blockade_test_body_means_two_containers_a_round() -> None:
    # Blockade's own REST test: one event, 1-2 ms delay, min_run_time given twice
    # (JSON keeps the last), two containers at once.
    options = BlockadeChaosOptions.parse(
        {"event_set": ["SLOW"], "min_start_delay": 1, "max_start_delay": 2,
         "min_run_time": 300000, "min_containers_at_once": 2, "max_containers_at_once": 2}
    )  # fmt: skip
    request = options.request(targets=2)
    assert request.events == "slow" and request.at_once == "2..2"
    assert parse_span(request.interval, "-").low == 0.001
    assert parse_span(request.hold, "-").low == 300.0
    assert parse_seconds(request.duration, "-") == 86400.0


def test_more_containers_than_there_are_means_all_and_partition_isolates() -> None:
    options = BlockadeChaosOptions.parse({"max_containers_at_once": 5, "event_set": ["PARTITION"]})
    request = options.request(targets=3)
    assert parse_count_span(request.at_once, "-") == (1, 3)
    assert request.events == "isolate"


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"min_events_at_once": 1}, "min_events_at_once is not one of"),
        ({"event_set": ["EXPLODE"]}, "EXPLODE is an unknown event"),
        ({"event_set": []}, "event_set"),
        ({"min_run_time": "10"}, "min_run_time: a whole number"),
        ({"min_run_time": True}, "min_run_time: a whole number"),
        ({"min_start_delay": -1}, "min_start_delay: a whole number"),
        ({"min_start_delay": 10, "max_start_delay": 5}, "more than max_start_delay"),
        ({"min_containers_at_once": 0}, "1 or more"),
        ({"min_start_delay": 0, "min_run_time": 0}, "more than 0"),
    ],
)
def test_what_blockade_refused_is_refused(given: dict[str, Any], words: str) -> None:
    with pytest.raises(ChaosOptionError, match=words):
        BlockadeChaosOptions.parse(given)


def test_an_update_keeps_the_options_not_given() -> None:
    first = BlockadeChaosOptions.parse({"event_set": ["FLAKY"], "max_run_time": 5000,
                                        "min_run_time": 1000})  # fmt: skip
    later = BlockadeChaosOptions.parse({"event_set": ["SLOW"]}, first)
    assert later.max_run_time == 5000 and later.event_set == ("SLOW",)
    assert BlockadeChaosOptions.from_json(later.to_json()) == later


VALUES = st.one_of(
    st.integers(-(10**20), 10**20), st.booleans(), st.none(), st.text(max_size=5),
    st.floats(), st.lists(st.sampled_from(["SLOW", "FLAKY", "STOP", "PARTITION", "X"])),
)  # fmt: skip
KEYS = st.sampled_from(
    [f.name for f in BlockadeChaosOptions.__dataclass_fields__.values()] + ["min_events_at_once"]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=8), st.integers(0, 6))
def test_no_blockade_option_gets_more_than_a_one_line_error(
    given: dict[str, Any], targets: int
) -> None:
    try:
        request = BlockadeChaosOptions.parse(given).request(targets)
    except ChaosOptionError as exc:
        assert "\n" not in str(exc)
        return
    lo, hi = parse_count_span(request.at_once, "-")
    assert 1 <= lo <= hi <= max(targets, 1)
    parse_span(request.interval, "-")
    parse_span(request.hold, "-")
