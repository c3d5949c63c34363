"""Service actions as supervisor config changes, and when they count as done."""

from __future__ import annotations

import signal

import pytest

from squall.errors import BackendError
from squall.runtime.base import Action
from squall.runtime.netns.actions import acted, settled, signal_number
from squall.runtime.netns.config import ServiceConfig, ServiceReport, SupervisorReport
from squall.runtime.netns.spawn import Launch

CFG = ServiceConfig(name="api", launch=Launch(argv=("sleep", "9")), generation=3)
RUNNING = ServiceReport(name="api", state="running", pid=10, generation=3)
EXITED = ServiceReport(name="api", state="exited", generation=3)


def _report(seen: ServiceReport) -> SupervisorReport:
    return SupervisorReport(pid=1, serial=1, services={"api": seen})


def test_signals_by_name_or_number() -> None:
    assert signal_number(None) == signal.SIGKILL
    assert signal_number("term") == signal_number("SIGTERM") == signal.SIGTERM
    assert signal_number("9") == 9
    with pytest.raises(BackendError, match="unknown signal 'SIGNOPE'"):
        signal_number("SIGNOPE")


def test_start_asks_for_a_new_generation_only_when_not_running() -> None:
    assert acted(CFG, RUNNING, Action.START).generation == 3
    assert acted(CFG, EXITED, Action.START).generation == 4
    assert acted(CFG, RUNNING, Action.RESTART).generation == 4
    assert acted(CFG, RUNNING, Action.STOP).desired == "stopped"


def test_kill_sends_once_per_nonce_and_sigkill_stops() -> None:
    once = acted(CFG, RUNNING, Action.KILL, signal.SIGTERM)
    assert (once.kill, once.desired) == ((1, signal.SIGTERM), "running")
    twice = acted(once, RUNNING, Action.KILL, signal.SIGKILL)
    assert (twice.kill, twice.desired) == ((2, signal.SIGKILL), "stopped")


def test_pause_needs_a_running_service() -> None:
    assert acted(CFG, RUNNING, Action.PAUSE).desired == "paused"
    with pytest.raises(BackendError, match="'api' is not running"):
        acted(CFG, EXITED, Action.PAUSE)
    assert acted(acted(CFG, RUNNING, Action.PAUSE), RUNNING, Action.UNPAUSE).desired == "running"


def test_settled_waits_for_what_the_action_wants() -> None:
    stop = {"api": acted(CFG, RUNNING, Action.STOP)}
    assert not settled(_report(RUNNING), stop, ["api"], Action.STOP)
    assert settled(_report(EXITED), stop, ["api"], Action.STOP)
    restart = {"api": acted(CFG, RUNNING, Action.RESTART)}
    assert not settled(_report(RUNNING), restart, ["api"], Action.RESTART)
    newer = ServiceReport(name="api", state="running", pid=11, generation=4)
    assert settled(_report(newer), restart, ["api"], Action.RESTART)
    paused = {"api": acted(CFG, RUNNING, Action.PAUSE)}
    assert not settled(_report(RUNNING), paused, ["api"], Action.PAUSE)
    kill = {"api": acted(CFG, RUNNING, Action.KILL, signal.SIGHUP)}
    assert settled(_report(RUNNING), kill, ["api"], Action.KILL)
    assert not settled(SupervisorReport(pid=1, serial=1, services={}), kill, ["api"], Action.KILL)
