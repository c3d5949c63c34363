"""The event log's own format and its tail reader."""

from __future__ import annotations

from pathlib import Path

from squall import events
from squall.events import Actor


def test_time_is_utc_with_milliseconds() -> None:
    assert events.format_time(0.1234) == "1970-01-01T00:00:00.123Z"
    assert events.parse_time("1970-01-01T00:00:01.500Z") == 1.5


def test_tail_reads_only_new_complete_lines(tmp_path: Path) -> None:
    tail = events.Tail.at_end(tmp_path / events.EVENTS_FILE)
    assert tail.poll() == []
    events.append(tmp_path, events.make_event(Actor("cli"), "join"))
    with open(tmp_path / events.EVENTS_FILE, "a") as f:
        f.write('{"time": "torn')
    assert [e.what for e in tail.poll()] == ["join"]
    assert tail.poll() == []
