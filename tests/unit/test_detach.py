"""Detached processes: recognised by their command line, stopped with a deadline."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from squall import detach
from squall.linux import procs

MODULE = "squall.test.sleeper"


def _sleeper(*extra: str, ignore_term: bool = False) -> subprocess.Popen[bytes]:
    code = "import signal, time\n"
    if ignore_term:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "print('ready', flush=True)\ntime.sleep(30)\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "-m", MODULE, *extra], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"  # exec done, handlers installed
    return proc


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = _sleeper("--project", "p1")
    yield proc
    proc.kill()
    proc.wait()


def test_marker_wants_the_module_and_the_option_value() -> None:
    argv = ["python", "-m", MODULE, "--project", "p1"]
    assert detach.Marker(MODULE)(argv)
    assert detach.Marker(MODULE, "--project", "p1")(argv)
    assert not detach.Marker(MODULE, "--project", "p2")(argv)
    assert not detach.Marker("squall.other", "--project", "p1")(argv)
    assert not detach.Marker(MODULE, "--state", "p1")(argv)
    assert not detach.Marker(MODULE, "--project", "p1")(["python", "-m", MODULE, "--project"])


def test_a_pidfile_counts_only_while_it_names_a_live_process_of_ours(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    pidfile = tmp_path / "x.pid"
    ours = detach.Marker(MODULE, "--project", "p1")
    assert detach.running(pidfile, ours) is None  # no pidfile
    pidfile.write_text("1\n")  # init: alive, not ours
    assert detach.running(pidfile, ours) is None
    pidfile.write_text(f"{sleeper.pid}\n")
    assert detach.running(pidfile, ours) == sleeper.pid
    assert detach.running(pidfile, detach.Marker(MODULE, "--project", "p2")) is None
    assert sleeper.pid in detach.find(ours)
    sleeper.kill()
    time.sleep(0.2)  # a zombie now: not reaped, still in /proc
    assert procs.is_zombie(sleeper.pid)
    assert detach.running(pidfile, ours) is None
    assert sleeper.pid not in detach.find(ours)


def test_this_process_is_never_one_of_ours(tmp_path: Path) -> None:
    pidfile = tmp_path / "self.pid"
    pidfile.write_text(f"{os.getpid()}\n")
    assert detach.running(pidfile, lambda argv: True) is None


def test_stop_terminates_and_reaps(sleeper: subprocess.Popen[bytes]) -> None:
    started = time.monotonic()
    assert detach.stop(sleeper.pid, 5.0)
    assert time.monotonic() - started < 2.0
    assert procs.command_line(sleeper.pid) == []


def test_stop_kills_what_ignores_sigterm_after_the_deadline() -> None:
    stubborn = _sleeper(ignore_term=True)
    try:
        assert not detach.stop(stubborn.pid, 0.3, kill_after=None)
        assert not procs.is_zombie(stubborn.pid)  # still running: never killed
        started = time.monotonic()
        assert detach.stop(stubborn.pid, 0.3, kill_after=2.0)
        assert 0.3 <= time.monotonic() - started < 2.0
    finally:
        stubborn.kill()
        stubborn.wait()


def test_start_detached_appends_to_the_log_and_leaves_the_session(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    log.write_text("before\n")
    proc = detach.start_detached(
        [sys.executable, "-c", "import os; print(os.getsid(0) == os.getpid())"], log
    )
    assert proc.wait(10) == 0
    assert log.read_text() == "before\nTrue\n"


def test_log_tail_shows_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "daemon.log"
    assert detach.log_tail(log) == ""
    log.write_text("one\ntwo\nthree\nfour\n")
    assert detach.log_tail(log) == f"; {log} ends: two | three | four"
    assert detach.log_tail(log, lines=1) == f"; {log} ends: four"
