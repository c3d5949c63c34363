"""Running a chaos plan (or replaying a recorded run) against a session.

Every change goes through the session, so the event log records the run (`who:
chaos`, `run: <id>`); `replay` re-runs a run from that log at the same offsets.
Stopping (Ctrl-C, SIGTERM from `squall chaos stop`, or the end of the run) heals
what the run did: the partition and the shapes go back to what was in force when it
began (a partition or a shape set before chaos stays), and what it paused, stopped
or killed runs again.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Final

from squall import events as event_log
from squall.chaos.control import mark_round
from squall.chaos.plan import SHAPE_KINDS, ChaosPlan, Fault
from squall.errors import ChaosError, SquallError
from squall.faults.desired import DesiredFaults, ShapeEntry
from squall.faults.model import Partition, Shape
from squall.runtime.base import Action
from squall.session import Session

REPLAYABLE: Final = frozenset(
    {"partition", "join", "shape", "slow", "flaky", "duplicate", "fast", "restore"}
    | {str(a) for a in Action}
)


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


View = Callable[[ChaosState], None]


class ChaosRunner:
    """Runs a plan (or a replay) against a session; heals on every way out."""

    def __init__(self, session: Session, stop: Stop, view: View | None = None) -> None:
        self.session = session
        self.stop = stop
        self.view = view or (lambda state: None)
        self.stopped_services: set[str] = set()
        self.paused_services: set[str] = set()
        self.baseline = DesiredFaults()
        """The faults in force when the run began: what each heal goes back to."""

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
            self._restore_partition()
        elif fault.kind in SHAPE_KINDS:
            self._restore_shapes(fault.targets)
        elif fault.kind == "pause":
            s.act(fault.targets, Action.UNPAUSE)
            self.paused_services.difference_update(fault.targets)
        else:
            s.act(fault.targets, Action.START)
            self.stopped_services.difference_update(fault.targets)

    def _restore_partition(self) -> None:
        """Back to the partition in force before the run (none: join)."""
        if self.baseline.partition:
            self.session.partition(self.baseline.partition)
        else:
            self.session.join()

    def _restore_shapes(self, services: Sequence[str]) -> None:
        """Back to the shapes `services` had before the run (none: fast)."""
        previous = {s: self.baseline.shapes.get(s, ()) for s in services}
        if any(previous.values()):
            self.session.restore_shapes(previous)
        else:
            self.session.fast(services)

    def _heal_now(self) -> None:
        now = self.session.desired_faults()
        if now.partition != self.baseline.partition:
            self._restore_partition()
        changed = sorted(
            s
            for s in set(now.shapes) | set(self.baseline.shapes)
            if tuple(now.shapes.get(s, ())) != tuple(self.baseline.shapes.get(s, ()))
        )
        if changed:
            self._restore_shapes(changed)
        if self.paused_services:
            self.session.act(sorted(self.paused_services), Action.UNPAUSE)
        if self.stopped_services:
            self.session.act(sorted(self.stopped_services), Action.START)

    def heal(self, state: ChaosState) -> None:
        """Undo what the run did: the faults in force before it are in force again, and
        what it paused, stopped or killed runs again."""
        self._try(
            state,
            "healed: the faults from before chaos are back, what it stopped runs",
            self._heal_now,
        )
        self.stopped_services.clear()
        self.paused_services.clear()
        state.in_force.clear()

    def run(self, plan: ChaosPlan, run_id: str) -> ChaosState:
        state = ChaosState(plan, run_id, started=time.monotonic())
        self.baseline = self.session.desired_faults()
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
                mark_round(self.session.state.ensure(), True)
                self.view(state)
                if self._wait_until(state, rnd.until):
                    break
                for held in list(state.in_force):
                    if held.error is None:
                        text = f"end {held.fault.describe()}"
                        self._try(state, text, functools.partial(self._end_fault, held.fault))
                state.in_force.clear()
                mark_round(self.session.state.ensure(), False)
            else:
                self._wait_until(state, plan.duration)
        finally:
            reason = self.stop.reason if self.stop.is_set() else "completed"
            self.heal(state)
            mark_round(self.session.state.ensure(), False)
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
        self.baseline = self.session.desired_faults()
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
    "REPLAYABLE",
    "ChaosRunner",
    "ChaosState",
    "InForce",
    "Stop",
    "View",
    "changes",
    "new_run_id",
    "run_events",
    "signals_stop",
]
