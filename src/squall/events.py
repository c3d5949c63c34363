"""The event log: every change Squall makes to a cluster, one JSON line each.

Kept as `events.jsonl` in the cluster's state directory, appended by whoever makes the
change (the CLI, the Python API, a chaos run, the `--duration` timer), so a user can
line Squall's faults up with the system's own logs. A line is written with a single
`write()` on a file opened with `O_APPEND`, so concurrent writers never interleave.

`down` forgets the cluster (its state directory goes), but its log is kept next to the
state directories as `<project>.events.jsonl` until the next `down` of that name.

A line:

    {"time": "2024-05-01T12:00:00.123Z", "who": "chaos", "pid": 4711, "what": "partition",
     "targets": ["a", "b"], "values": {...}, "result": "ok", "error": null,
     "run": "c7f3a9", "seq": 12}
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from squall.errors import SquallError, StateError
from squall.faults.model import Partition, Shape
from squall.faults.partition import describe_partition

EVENTS_FILE: Final = "events.jsonl"
Who = Literal["cli", "api", "chaos", "timer", "pytest"]


def utc_now() -> str:
    """Now, in UTC with milliseconds: `2024-05-01T12:00:00.123Z`."""
    return format_time(time.time())


def format_time(unix: float) -> str:
    moment = datetime.datetime.fromtimestamp(unix, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> float:
    """The Unix time of an event's `time`."""
    return (
        datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
        .replace(tzinfo=datetime.UTC)
        .timestamp()
    )


@dataclass(frozen=True)
class Actor:
    """Who makes changes through a session: the event fields besides the change itself."""

    who: str = "cli"
    run: str | None = None
    """A chaos run's id (or a test's node id): groups the events of one run."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """More fields for every event of this actor (e.g. `replay_of`)."""


@dataclass(frozen=True)
class Event:
    """One change: what was asked, of whom, with which values, and how it went."""

    time: str
    who: str
    pid: int
    what: str
    targets: tuple[str, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    result: str = "ok"
    """`ok` or `error`."""
    error: str | None = None
    run: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.result == "ok"

    @property
    def unix_time(self) -> float:
        return parse_time(self.time)

    def change(self) -> tuple[str, tuple[str, ...], str]:
        """What was changed, comparable between a run and its replay."""
        return (self.what, self.targets, json.dumps(self.values, sort_keys=True))

    def to_dict(self) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "time": self.time,
            "who": self.who,
            "pid": self.pid,
            "what": self.what,
            "targets": list(self.targets),
            "values": dict(self.values),
            "result": self.result,
            "error": self.error,
        }
        if self.run is not None:
            raw["run"] = self.run
        raw.update(self.extra)
        return raw

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=False, separators=(",", ":"), default=str)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Event:
        known = {"time", "who", "pid", "what", "targets", "values", "result", "error", "run"}
        return cls(
            time=str(raw["time"]),
            who=str(raw.get("who", "?")),
            pid=int(raw.get("pid", 0)),
            what=str(raw["what"]),
            targets=tuple(str(t) for t in raw.get("targets", ())),
            values=dict(raw.get("values") or {}),
            result=str(raw.get("result", "ok")),
            error=raw.get("error"),
            run=raw.get("run"),
            extra={k: v for k, v in raw.items() if k not in known},
        )

    def describe(self) -> str:
        """One readable line: `12:00:00.123 chaos[4711] partition a | b,c  ok`."""
        clock = self.time[11:23] if len(self.time) >= 23 else self.time
        who = f"{self.who}[{self.pid}]"
        text = f"{clock} {who:<14} {self.what}"
        if self.targets:
            text += " " + ",".join(self.targets)
        shown = _describe_values(self.values)
        if shown:
            text += f" ({shown})"
        text += "  ok" if self.ok else f"  ERROR: {self.error}"
        return text


def _describe_values(values: Mapping[str, Any]) -> str:
    parts = []
    for key, value in values.items():
        if key in ("shape", "partition") and isinstance(value, dict):
            with contextlib.suppress(SquallError, KeyError, TypeError, ValueError):
                parts.append(_describe_fault(key, value))
                continue
        if value in (None, "", [], {}, False):
            continue
        if isinstance(value, list | tuple):
            value = " ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = json.dumps(value, separators=(",", ":"))
        parts.append(f"{key}={value}")
    return " ".join(parts)


def _describe_fault(key: str, raw: Mapping[str, Any]) -> str:
    if key == "shape":
        return str(Shape.from_dict(raw))
    return describe_partition(Partition.from_dict(raw))


def make_event(
    actor: Actor,
    what: str,
    targets: Sequence[str] = (),
    values: Mapping[str, Any] | None = None,
    error: BaseException | str | None = None,
) -> Event:
    return Event(
        time=utc_now(),
        who=actor.who,
        pid=os.getpid(),
        what=what,
        targets=tuple(targets),
        values=dict(values or {}),
        result="ok" if error is None else "error",
        error=None if error is None else str(error) or type(error).__name__,
        run=actor.run,
        extra=dict(actor.extra),
    )


def append(state_dir: Path, event: Event) -> None:
    """Add one line to the log of the cluster whose state directory is `state_dir`."""
    path = state_dir / EVENTS_FILE
    line = (event.to_json() + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StateError(f"cannot write the event log {path}: {exc.strerror}") from exc


def log_path(state_dir: Path) -> Path:
    """The live log, or the one `down` kept, whichever exists (live first)."""
    live = state_dir / EVENTS_FILE
    if live.exists():
        return live
    kept = archived_path(state_dir)
    return kept if kept.exists() else live


def archived_path(state_dir: Path) -> Path:
    return state_dir.parent / f"{state_dir.name}.events.jsonl"


def archive(state_dir: Path) -> None:
    """Keep the log beside the state directory before `down` removes it."""
    live = state_dir / EVENTS_FILE
    if live.exists():
        os.replace(live, archived_path(state_dir))


def parse_lines(lines: Sequence[str], source: str = "events") -> list[Event]:
    """Events from JSON lines; a torn last line (a writer mid-write) is skipped.

    Raises:
        StateError: a line other than the last is not an event.
    """
    events = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            events.append(Event.from_dict(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            if number == len(lines):
                break
            raise StateError(f"{source}:{number}: not an event ({exc})") from exc
    return events


def read(path: Path) -> list[Event]:
    """Every event in a log file ([] if there is none)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StateError(f"cannot read the event log {path}: {exc.strerror}") from exc
    return parse_lines(text.splitlines(), str(path))


@dataclass
class Tail:
    """Reads a log from a byte offset on: what was added since the last `poll()`."""

    path: Path
    offset: int = 0

    @classmethod
    def at_end(cls, path: Path) -> Tail:
        try:
            return cls(path, path.stat().st_size)
        except FileNotFoundError:
            return cls(path, 0)

    def poll(self) -> list[Event]:
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < self.offset:  # the log was removed and begun again
                    self.offset = 0
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        return parse_lines(complete.decode(errors="replace").splitlines(), str(self.path))


def follow(
    path: Path,
    *,
    from_start: bool = True,
    poll_seconds: float = 0.2,
    until: Callable[[], bool] | None = None,
) -> Iterator[Event]:
    """Events as they are appended; stops when `until()` says so (never, if None)."""
    tail = Tail(path) if from_start else Tail.at_end(path)
    while True:
        yield from tail.poll()
        if until is not None and until():
            yield from tail.poll()
            return
        time.sleep(poll_seconds)


__all__ = [
    "EVENTS_FILE",
    "Actor",
    "Event",
    "Tail",
    "Who",
    "append",
    "archive",
    "archived_path",
    "follow",
    "format_time",
    "log_path",
    "make_event",
    "parse_lines",
    "parse_time",
    "read",
    "utc_now",
]
