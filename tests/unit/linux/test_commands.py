"""The one runner of kernel commands, tried on harmless programs (no root needed)."""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

import pytest

from squall.errors import FaultError, KernelCommandFailed
from squall.linux.commands import FailAt, Runner, run_all

PY = sys.executable


def test_output_is_returned_and_the_command_logged_with_its_input() -> None:
    lines: list[str] = []
    done = Runner(lines.append).run(
        (PY, "-c", "import sys; print(sys.stdin.read().upper())"), "link add x\nlink del y\n"
    )
    assert (done.returncode, done.stdout) == (0, "LINK ADD X\nLINK DEL Y\n\n")
    assert lines == [
        f"{PY} -c 'import sys; print(sys.stdin.read().upper())' <<EOF",
        "    link add x",
        "    link del y",
    ]


def test_a_failure_carries_argv_exit_code_and_stderr() -> None:
    argv = (PY, "-c", "import sys; print('one\\ntwo\\nthree\\nfour', file=sys.stderr); sys.exit(3)")
    with pytest.raises(KernelCommandFailed) as caught:
        Runner().run(argv)
    error = caught.value
    assert (error.argv, error.returncode) == (argv, 3)
    assert error.stderr == "one\ntwo\nthree\nfour\n"
    assert error.message == f"{' '.join(argv)}: two; three; four"
    assert Runner().run(argv, check=False).returncode == 3


def test_missing_program_and_timeout_are_the_same_error() -> None:
    with pytest.raises(KernelCommandFailed) as missing:
        Runner().run(("squall-no-such-program", "-x"))
    assert missing.value.returncode == 127
    assert missing.value.message == "squall-no-such-program -x: not installed"
    started = time.monotonic()
    with pytest.raises(KernelCommandFailed, match=r"timed out after 0\.2s") as slow:
        Runner(timeout=0.2).run((PY, "-c", "import time; time.sleep(5)"))
    assert slow.value.returncode == -1 and time.monotonic() - started < 3


def test_inside_a_namespace_it_logs_the_nsenter_form_and_names_a_gone_namespace() -> None:
    lines: list[str] = []
    runner = Runner(lines.append).inside("/run/netns/squall-test-no-such-ns")
    with pytest.raises(
        FaultError, match="network namespace /run/netns/squall-test-no-such-ns is gone"
    ):
        runner.run(("tc", "qdisc", "show"))
    assert lines == ["nsenter --net=/run/netns/squall-test-no-such-ns -- tc qdisc show"]


def test_streaming_relays_stderr_and_hands_over_stdout() -> None:
    code = "import sys; sys.stdout.write('x' * 100000); print('I: step', file=sys.stderr)"
    said: list[str] = []
    with Runner().streaming((PY, "-c", code), on_stderr=said.append) as out:
        data = out.read()
    assert data == b"x" * 100000
    assert said == ["I: step"]


def test_streaming_failure_names_the_last_lines_of_stderr() -> None:
    code = "import sys; print('E: no mirror', file=sys.stderr); sys.exit(25)"
    with (
        pytest.raises(KernelCommandFailed, match="E: no mirror") as caught,
        Runner().streaming((PY, "-c", code)) as out,
    ):
        out.read()
    assert caught.value.returncode == 25


def test_streaming_kills_the_command_when_the_reader_fails() -> None:
    started = time.monotonic()
    with (
        pytest.raises(RuntimeError, match="reader"),
        Runner().streaming((PY, "-c", "import time; time.sleep(30)")),
    ):
        raise RuntimeError("reader gave up")
    assert time.monotonic() - started < 5


def test_run_all_runs_every_job_then_raises_the_first_failure_counted() -> None:
    ran: list[int] = []

    def job(n: int) -> int:
        ran.append(n)
        if n % 2:
            raise KernelCommandFailed(("ip", str(n)), "refused", 2)
        return n

    assert run_all([functools.partial(job, n) for n in (0, 2, 4)]) == [0, 2, 4]
    with pytest.raises(
        KernelCommandFailed, match=r"ip 1: refused \(and 2 more namespace\(s\) failed\)"
    ):
        run_all([functools.partial(job, n) for n in range(6)])
    assert sorted(ran) == [0, 0, 1, 2, 2, 3, 4, 4, 5]  # every job ran, failures or not


def test_fail_at_makes_the_nth_command_fail_after_it_ran(tmp_path: Path) -> None:
    hook = FailAt(2)
    runner = Runner(fail=hook)
    assert runner.inside("/run/netns/x").fail is hook  # one count across namespaces
    touch = (PY, "-c", "import pathlib, sys; pathlib.Path(sys.argv[1]).touch()")
    runner.run((*touch, str(tmp_path / "one")))
    with pytest.raises(KernelCommandFailed, match=r"failed on purpose \(test hook: command 2\)"):
        Runner(fail=hook).run((*touch, str(tmp_path / "two")), check=False)
    runner.run((*touch, str(tmp_path / "three")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "three", "two"]
    assert hook.ran == 3
