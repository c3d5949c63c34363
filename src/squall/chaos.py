"""`squall chaos`: a seeded schedule of faults while the system under test runs.

Blockade's chaos with Jepsen's partition shapes. The schedule is made up front from
the seed and the cluster's services (sorted), so the same seed on the same cluster
gives the same timeline (`plan_chaos`, pure). It runs in rounds: wait an `interval`,
start `at_once` faults (distinct kinds), hold them for `hold`, heal them, and so on
until `duration` is over. Every change goes through the session, so the event log
records the run (`who: chaos`, `run: <id>`); `replay` re-runs a run from that log.

Stopping (Ctrl-C, SIGTERM from `squall chaos stop`, or the end of the run) heals
everything: join, fast on every shaped service, unpause what it paused, start what it
stopped or killed.

Kinds: partition, slow, flaky, duplicate, stop, kill, pause. Holy services are never
touched; neutral ones are never partitioned.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import re
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final

from squall import detach
from squall import events as event_log
from squall.errors import ChaosError, ChaosRunning, SquallError, UsageError
from squall.faults.desired import ShapeEntry
from squall.faults.model import Partition, Shape
from squall.faults.partition import JEPSEN_SHAPES, jepsen
from squall.faults.request import describe_partition
from squall.runtime.base import Action
from squall.session import Session
from squall.units import parse_duration

KINDS: Final[tuple[str, ...]] = ("partition", "slow", "flaky", "duplicate", "stop", "kill", "pause")
SHAPE_KINDS: Final = frozenset({"slow", "flaky", "duplicate"})
SERVICE_KINDS: Final = frozenset({"stop", "kill", "pause"})
PID_FILE: Final = "chaos.pid"
REPLAYABLE: Final = frozenset(
    {"partition", "join", "shape", "slow", "flaky", "duplicate", "fast", "restore"}
    | {str(a) for a in Action}
)


@dataclass(frozen=True)
class Span:
    """A range to draw from: `1s..3s` (seconds) or `1..2` (counts)."""

    low: float
    high: float

    def draw(self, rng: random.Random) -> float:
        return self.low if self.low == self.high else rng.uniform(self.low, self.high)

    def __str__(self) -> str:
        return f"{self.low:g}..{self.high:g}"


def parse_span(text: str, flag: str) -> Span:
    """`MIN..MAX` or one value, as durations (`5s..30s`, `500ms`).

    Raises:
        UsageError: not a duration range, or MIN > MAX.
    """
    low, _, high = text.partition("..")
    lo = parse_duration(low.strip(), flag).seconds
    hi = parse_duration(high.strip(), flag).seconds if high else lo
    if lo < 0 or hi < lo:
        raise UsageError(f"{flag} {text}: use MIN..MAX with 0 <= MIN <= MAX")
    return Span(lo, hi)


def parse_count_span(text: str, flag: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?", text)
    if match is None:
        raise UsageError(f"{flag} {text}: use N or MIN..MAX (whole numbers)")
    lo = int(match[1])
    hi = int(match[2]) if match[2] else lo
    if lo < 1 or hi < lo:
        raise UsageError(f"{flag} {text}: use 1 <= MIN <= MAX")
    return lo, hi


def parse_kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise UsageError(f"--events {text}: choose from {','.join(KINDS)}")
    return kinds


@dataclass(frozen=True)
class Fault:
    """One fault of a round."""

    kind: str
    targets: tuple[str, ...] = ()
    partition: Partition | None = None

    def describe(self) -> str:
        if self.partition is not None:
            return describe_partition(self.partition)
        return f"{self.kind} {','.join(self.targets)}"

    def to_dict(self) -> dict[str, Any]:
        raw: dict[str, Any] = {"kind": self.kind, "targets": list(self.targets)}
        if self.partition is not None:
            raw["partition"] = self.partition.to_dict()
        return raw


@dataclass(frozen=True)
class Round:
    at: float
    """Seconds after the start of the run."""
    hold: float
    faults: tuple[Fault, ...]

    @property
    def until(self) -> float:
        return self.at + self.hold


@dataclass(frozen=True)
class ChaosPlan:
    seed: int
    duration: float
    kinds: tuple[str, ...]
    services: tuple[str, ...]
    rounds: tuple[Round, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "duration": self.duration,
            "kinds": list(self.kinds),
            "services": list(self.services),
            "rounds": [
                {
                    "at": round(r.at, 3),
                    "hold": round(r.hold, 3),
                    "faults": [f.to_dict() for f in r.faults],
                }
                for r in self.rounds
            ],
        }


def _partition(
    pool: Sequence[str], rng: random.Random, holy: Collection[str], neutral: Collection[str]
) -> Partition:
    shapes = list(JEPSEN_SHAPES)
    rng.shuffle(shapes)
    for shape in shapes:
        cut = jepsen(shape, pool, rng, holy, neutral)
        if cut:
            return cut
    return Partition()


def plan_chaos(
    services: Sequence[str],
    *,
    seed: int,
    duration: float,
    kinds: Sequence[str] = KINDS,
    interval: Span = Span(5.0, 30.0),
    hold: Span = Span(5.0, 30.0),
    at_once: tuple[int, int] = (1, 1),
    holy: Collection[str] = (),
    neutral: Collection[str] = (),
) -> ChaosPlan:
    """The whole timeline, from the seed alone: same inputs, same plan. Pure.

    Raises:
        ChaosError: no service may be touched, or the kinds cannot apply.
    """
    names = sorted(services)
    pool = [s for s in names if s not in holy]
    if not pool:
        raise ChaosError("chaos needs a service that is not holy")
    partitionable = [s for s in pool if s not in neutral]
    usable = [k for k in kinds if k != "partition" or len(partitionable) >= 2]
    if not usable:
        raise ChaosError("a partition needs two services that are neither holy nor neutral")
    rng = random.Random(seed)
    rounds: list[Round] = []
    t = interval.draw(rng)
    while t < duration:
        count = rng.randint(at_once[0], min(at_once[1], len(usable)))
        chosen = sorted(rng.sample(sorted(usable), count), key=KINDS.index)
        faults: list[Fault] = []
        down: set[str] = set()
        for kind in chosen:
            if kind == "partition":
                cut = _partition(names, rng, holy, neutral)
                if cut:
                    faults.append(Fault(kind, tuple(sorted({c.src for c in cut.cuts})), cut))
                continue
            candidates = [s for s in pool if kind not in SERVICE_KINDS or s not in down]
            if not candidates:
                continue
            target = rng.choice(candidates)
            if kind in SERVICE_KINDS:
                down.add(target)
            faults.append(Fault(kind, (target,)))
        held = min(hold.draw(rng), duration - t)
        rounds.append(Round(t, held, tuple(faults)))
        t += held + interval.draw(rng)
    return ChaosPlan(seed, duration, tuple(kinds), tuple(names), tuple(rounds))


# Running --------------------------------------------------------------------------------


@dataclass
class InForce:
    fault: Fault
    since: float
    until: float
    error: str | None = None


@dataclass
class ChaosState:
    """What a live view shows; updated by the runner as it goes."""

    plan: ChaosPlan
    run: str
    started: float = 0.0
    in_force: list[InForce] = field(default_factory=list)
    next_at: float | None = None
    log: list[str] = field(default_factory=list)
    finished: str | None = None
    """Why it ended: `completed`, `interrupted`, `stopped`; None while running."""

    def elapsed(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.started


class Stop:
    """A stop request from a signal handler or another thread, and a sleep it cuts short."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = "stopped"

    def set(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when stopped meanwhile."""
        return self._event.wait(max(0.0, seconds))


@contextlib.contextmanager
def signals_stop(stop: Stop) -> Iterator[None]:
    """SIGINT and SIGTERM ask the run to stop and heal; a second SIGINT aborts."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and stop.is_set() and stop.reason == "interrupted":
            raise KeyboardInterrupt
        stop.set("interrupted" if signum == signal.SIGINT else "stopped")

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def pidfile(state_dir: Path) -> Iterator[None]:
    """One chaos run per cluster; `squall chaos stop` finds it here."""
    path = state_dir / PID_FILE
    running = running_chaos(state_dir)
    if running is not None:
        raise ChaosRunning(f"a chaos run is going on this cluster already (pid {running})")
    path.write_text(f"{os.getpid()}\n")
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if path.read_text().strip() == str(os.getpid()):
                path.unlink()


def running_chaos(state_dir: Path) -> int | None:
    from squall.faults.shaper.procs import command_line, is_zombie, read_pid

    pid = read_pid(state_dir / PID_FILE)
    if pid is None or pid == os.getpid() or is_zombie(pid):
        return None
    argv = command_line(pid)
    return pid if any("squall" in a for a in argv) and "chaos" in argv else None


def stop_chaos(state_dir: Path, wait: float = 120.0) -> int | None:
    """Ask the cluster's chaos run to stop (it heals first); wait for it to exit.

    Returns its pid, or None when no run is going.

    Raises:
        ChaosError: it did not exit within `wait` seconds.
    """
    pid = running_chaos(state_dir)
    if pid is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    from squall.faults.shaper.procs import is_zombie

    while Path(f"/proc/{pid}").exists() and not is_zombie(pid):
        if time.monotonic() > deadline:
            raise ChaosError(f"chaos run {pid} did not stop within {wait:g}s")
        time.sleep(0.1)
    return pid


View = Callable[[ChaosState], None]


def start_detached(
    session: Session,
    backend_name: str,
    seed: int,
    duration: str,
    kinds: str,
    interval: str,
    hold: str,
    at_once: str,
) -> int:
    """Start `squall chaos` for the session's cluster in its own session; its pid.

    The run outlives the caller (CLI `--detach`, the HTTP API); `stop_chaos` ends it.

    Raises:
        ChaosError: a run is already going, or the new one exited at once.
    """
    state_dir = session.state.ensure()
    running = running_chaos(state_dir)
    if running is not None:
        raise ChaosRunning(f"a chaos run is going on this cluster already (pid {running})")
    spec = session.cluster.spec
    if spec is None:
        raise ChaosError("a chaos run needs the cluster file")
    files = [arg for path in (spec.files or (spec.source,)) for arg in ("-f", str(path))]
    files += [arg for name in spec.active_profiles for arg in ("--profile", name)]
    argv = [
        sys.executable, "-m", "squall", *files, "--project-directory", str(spec.project_dir),
        "-p", session.project,
        "--backend", backend_name, "chaos", "--duration", duration,
        "--seed", str(seed), "--events", kinds, "--interval", interval,
        "--hold", hold, "--at-once", at_once,
    ]  # fmt: skip
    env = {**os.environ, "SQUALL_STATE_DIR": str(session.state.root)}
    try:
        proc = detach.start_detached(argv, state_dir / "chaos.log", env=env)
    except OSError as exc:
        raise ChaosError(f"cannot start the chaos run: {exc}") from exc
    deadline = time.monotonic() + 10
    while running_chaos(state_dir) != proc.pid:
        if proc.poll() is not None:
            raise ChaosError(f"the chaos run exited at once; see {state_dir / 'chaos.log'}")
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return proc.pid


class ChaosRunner:
    """Runs a plan (or a replay) against a session; heals on every way out."""

    def __init__(self, session: Session, stop: Stop, view: View | None = None) -> None:
        self.session = session
        self.stop = stop
        self.view = view or (lambda state: None)
        self.stopped_services: set[str] = set()
        self.paused_services: set[str] = set()

    def _say(self, state: ChaosState, line: str) -> None:
        state.log.append(f"{state.elapsed():7.1f}s {line}")
        del state.log[:-200]
        self.view(state)

    def _wait_until(self, state: ChaosState, offset: float) -> bool:
        """Sleep until `offset` seconds into the run, updating the view; True if stopped."""
        while True:
            left = state.started + offset - time.monotonic()
            if left <= 0:
                return self.stop.is_set()
            if self.stop.wait(min(left, 0.25)):
                return True
            self.view(state)

    def _try(self, state: ChaosState, text: str, change: Callable[[], object]) -> str | None:
        try:
            change()
        except SquallError as exc:
            self._say(state, f"{text}: FAILED: {exc}")
            return str(exc)
        self._say(state, text)
        return None

    def _start_fault(self, fault: Fault) -> None:
        s = self.session
        if fault.partition is not None:
            s.partition(fault.partition)
        elif fault.kind in SHAPE_KINDS:
            s.preset(fault.kind, fault.targets)  # type: ignore[arg-type]
        else:
            s.act(fault.targets, Action(fault.kind))
            if fault.kind == "pause":
                self.paused_services.update(fault.targets)
            else:
                self.stopped_services.update(fault.targets)

    def _end_fault(self, fault: Fault) -> None:
        s = self.session
        if fault.partition is not None:
            s.join()
        elif fault.kind in SHAPE_KINDS:
            s.fast(fault.targets)
        elif fault.kind == "pause":
            s.act(fault.targets, Action.UNPAUSE)
            self.paused_services.difference_update(fault.targets)
        else:
            s.act(fault.targets, Action.START)
            self.stopped_services.difference_update(fault.targets)

    def heal(self, state: ChaosState) -> None:
        """Undo everything in force (all shaping, the partition, what it took down)."""
        self._try(
            state,
            "healed: joined, fast, restarted what chaos stopped",
            lambda: self.session.heal(
                start=sorted(self.stopped_services), unpause=sorted(self.paused_services)
            ),
        )
        self.stopped_services.clear()
        self.paused_services.clear()
        state.in_force.clear()

    def run(self, plan: ChaosPlan, run_id: str) -> ChaosState:
        state = ChaosState(plan, run_id, started=time.monotonic())
        self.session.note("chaos start", plan.services, _plan_values(plan))
        try:
            for rnd in plan.rounds:
                state.next_at = rnd.at
                if self._wait_until(state, rnd.at):
                    break
                state.next_at = None
                for fault in rnd.faults:
                    err = self._try(
                        state, fault.describe(), functools.partial(self._start_fault, fault)
                    )
                    now = time.monotonic()
                    state.in_force.append(InForce(fault, now, now + rnd.hold, err))
                self.view(state)
                if self._wait_until(state, rnd.until):
                    break
                for held in list(state.in_force):
                    if held.error is None:
                        text = f"end {held.fault.describe()}"
                        self._try(state, text, functools.partial(self._end_fault, held.fault))
                state.in_force.clear()
            else:
                self._wait_until(state, plan.duration)
        finally:
            reason = self.stop.reason if self.stop.is_set() else "completed"
            self.heal(state)
            state.finished = reason
            self.session.note("chaos end", (), {"reason": reason})
            self._say(state, f"chaos {reason}")
        return state

    def replay(self, recorded: Sequence[event_log.Event], run_id: str) -> ChaosState:
        """Make the recorded changes again, at the same offsets from the run's start."""
        if not recorded:
            raise ChaosError("nothing to replay")
        start = recorded[0].unix_time
        plan = ChaosPlan(0, recorded[-1].unix_time - start, (), (), ())
        state = ChaosState(plan, run_id, started=time.monotonic())
        self.session.note("chaos replay", (), {"of": recorded[0].run, "events": len(recorded)})
        try:
            for event in recorded:
                if event.what not in REPLAYABLE:
                    continue
                if self._wait_until(state, event.unix_time - start):
                    break
                self._try(state, _describe(event), functools.partial(self._replay_one, event))
        finally:
            reason = self.stop.reason if self.stop.is_set() else "completed"
            if self.stop.is_set():
                self.heal(state)
            state.finished = reason
            self.session.note("chaos end", (), {"reason": reason})
            self._say(state, f"replay {reason}")
        return state

    def _replay_one(self, event: event_log.Event) -> None:
        s, what, targets, values = self.session, event.what, list(event.targets), event.values
        if what == "partition":
            s.partition(Partition.from_dict(values.get("partition", {})))
        elif what == "join":
            s.join()
        elif what in ("shape", *SHAPE_KINDS):
            s.shape(
                targets,
                Shape.from_dict(values["shape"]),
                to_services=tuple(values.get("to", ())),
                origin=what,
            )
        elif what == "fast":
            s.fast(targets)
        elif what == "restore":
            shapes = values.get("shapes", {})
            s.restore_shapes({k: [ShapeEntry.from_dict(e) for e in v] for k, v in shapes.items()})
        else:
            action = Action(what)
            s.act(targets, action, signal=values.get("signal"))
            if action is Action.PAUSE:
                self.paused_services.update(targets)
            elif action in (Action.STOP, Action.KILL):
                self.stopped_services.update(targets)
            elif action is Action.UNPAUSE:
                self.paused_services.difference_update(targets)
            elif action is Action.START:
                self.stopped_services.difference_update(targets)


def _describe(event: event_log.Event) -> str:
    return event.describe().split(" ", 2)[-1].rsplit("  ", 1)[0].strip()


def _plan_values(plan: ChaosPlan) -> dict[str, Any]:
    return {
        "seed": plan.seed,
        "duration": plan.duration,
        "kinds": list(plan.kinds),
        "rounds": len(plan.rounds),
    }


def new_run_id() -> str:
    return secrets.token_hex(4)


def run_events(
    recorded: Sequence[event_log.Event], run: str | None = None
) -> list[event_log.Event]:
    """The events of one chaos run (the last one in the log when `run` is None).

    Raises:
        ChaosError: the log holds no such run.
    """
    runs = [e.run for e in recorded if e.who == "chaos" and e.what == "chaos start" and e.run]
    if run is None:
        if not runs:
            raise ChaosError("the log holds no chaos run")
        run = runs[-1]
    chosen = [e for e in recorded if e.run == run and e.who == "chaos"]
    if not chosen:
        raise ChaosError(f"the log holds no chaos run {run!r} (runs: {', '.join(runs) or '-'})")
    return chosen


def changes(recorded: Sequence[event_log.Event]) -> list[tuple[str, tuple[str, ...], str]]:
    """The replayable changes of a run, comparable between a run and its replay."""
    return [e.change() for e in recorded if e.what in REPLAYABLE]


__all__ = [
    "KINDS",
    "ChaosPlan",
    "ChaosRunner",
    "ChaosState",
    "Fault",
    "InForce",
    "Round",
    "Span",
    "Stop",
    "changes",
    "new_run_id",
    "parse_count_span",
    "parse_kinds",
    "parse_span",
    "pidfile",
    "plan_chaos",
    "run_events",
    "running_chaos",
    "signals_stop",
    "stop_chaos",
]
