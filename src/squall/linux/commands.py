"""The one runner of kernel commands: `ip`, `tc`, `iptables*`, `nsenter`, `mmdebstrap`...

Every command is an argv list, never a shell string. It runs from the host, or from a
thread that has entered a network namespace (`setns`, the thread only; the child is
born there), which spares an `nsenter` per command. Each command is shown to the `-v`
log before it runs, as the equivalent `nsenter --net=PATH -- ...` when it runs inside
a namespace, with the lines it is fed. A failure (not installed, timed out, non-zero
exit) becomes `KernelCommandFailed` here and nowhere else.

`FailAt` is the runner's one test hook: the n-th command run through the runners that
share it reports failure after it ran (as a `tc -batch` that stopped half way would),
so tests can prove that every step of a change can fail without losing what was there.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, TypeVar

from squall.errors import FaultError, KernelCommandFailed
from squall.linux.netns import entered

Log = Callable[[str], None]
T = TypeVar("T")
COMMAND_TIMEOUT = 30.0
PARALLEL = 16
"""Threads for many namespaces: each mostly waits for a child process."""
NOT_INSTALLED = 127
DID_NOT_FINISH = -1

_logger = logging.getLogger("squall.kernel")


@dataclass
class FailAt:
    """Test hook: the `nth` command (1-based, counted across the runners and threads
    that share this object) runs, then fails as if it had exited 1. `ran` counts the
    commands seen, so `FailAt(0)` (never fails) measures how many a change takes."""

    nth: int
    ran: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def due(self) -> bool:
        with self._lock:
            self.ran += 1
            return self.ran == self.nth


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class Runner:
    """Runs argv lists from the host or inside the network namespace `netns`.

    Args:
        log: receives each command before it runs (`-v`); default: the `squall.kernel`
            logger at debug level.
        netns: path of the namespace to run in (None: the host's own).
        timeout: seconds a command may take before it counts as failed.
        fail: tests only: make one command fail on purpose (see `FailAt`).
    """

    def __init__(
        self,
        log: Log | None = None,
        netns: str | None = None,
        *,
        timeout: float = COMMAND_TIMEOUT,
        fail: FailAt | None = None,
    ) -> None:
        self.log = log
        self.netns = netns
        self.timeout = timeout
        self.fail = fail

    def inside(self, netns: str) -> Runner:
        """The same runner (log, timeout, test hook), for commands inside `netns`."""
        return Runner(self.log, netns, timeout=self.timeout, fail=self.fail)

    def say(self, line: str) -> None:
        """Send a line to the `-v` log."""
        if self.log is not None:
            self.log(line)
        elif _logger.isEnabledFor(logging.DEBUG):
            _logger.debug("%s", line)

    def run(
        self, argv: Sequence[str], stdin: str | None = None, *, check: bool = True
    ) -> Completed:
        """Run `argv` (fed `stdin`) to the end; its output, decoded.

        Raises:
            KernelCommandFailed: not installed, timed out, or (with `check`) a non-zero
                exit; a namespace that vanished meanwhile is named as the reason.
            FaultError: the namespace cannot be entered.
        """
        argv = tuple(argv)
        self._show(argv, stdin)
        try:
            with self.entered():
                proc = subprocess.run(
                    argv,
                    input=stdin,
                    capture_output=True,
                    text=True,
                    timeout=self.timeout,
                    env=_environment(),
                    check=False,
                )
        except subprocess.TimeoutExpired as exc:
            raise KernelCommandFailed(
                argv, f"timed out after {self.timeout:g}s", DID_NOT_FINISH, self.netns
            ) from exc
        except OSError as exc:
            raise self._not_started(argv, exc) from exc
        result = Completed(argv, proc.returncode, proc.stdout, proc.stderr)
        if self.fail is not None and self.fail.due():
            raise self._failed(argv, f"failed on purpose (test hook: command {self.fail.nth})", 1)
        if check and proc.returncode != 0:
            raise self._failed(argv, proc.stderr, proc.returncode)
        return result

    @contextlib.contextmanager
    def streaming(
        self, argv: Sequence[str], *, on_stderr: Log | None = None
    ) -> Iterator[IO[bytes]]:
        """Run `argv` (no time limit) while the body reads its stdout; each line of its
        stderr goes to `on_stderr` as it comes. When the body raises, the command is
        killed. On the way out, waits for it to exit.

        Raises:
            KernelCommandFailed: not installed, or a non-zero exit (stderr's last lines
                attached).
        """
        argv = tuple(argv)
        self._show(argv, None)
        try:
            with self.entered():
                process = subprocess.Popen(
                    argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_environment()
                )
        except OSError as exc:
            raise self._not_started(argv, exc) from exc
        assert process.stdout is not None and process.stderr is not None
        errors: list[str] = []
        reader = threading.Thread(
            target=_relay_lines, args=(process.stderr, on_stderr, errors), daemon=True
        )
        reader.start()
        try:
            yield process.stdout
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            process.stdout.close()
        returncode = process.wait()
        reader.join(timeout=5)
        if returncode != 0:
            raise self._failed(argv, "\n".join(errors), returncode)

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Move this thread into the namespace (children it starts are born there).

        Raises:
            FaultError: the namespace is gone or cannot be entered (not root).
        """
        if self.netns is None:
            yield
            return
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(entered(self.netns))
        except FileNotFoundError as exc:
            raise FaultError(f"network namespace {self.netns} is gone", netns=self.netns) from exc
        except OSError as exc:
            raise FaultError(
                f"cannot enter network namespace {self.netns}: {exc.strerror}", netns=self.netns
            ) from exc
        with stack:
            yield

    def _show(self, argv: tuple[str, ...], stdin: str | None) -> None:
        if self.log is None and not _logger.isEnabledFor(logging.DEBUG):
            return
        shown = argv if self.netns is None else ("nsenter", f"--net={self.netns}", "--", *argv)
        self.say(" ".join(shlex.quote(a) for a in shown) + (" <<EOF" if stdin else ""))
        for line in (stdin or "").rstrip("\n").splitlines():
            self.say("    " + line)

    def _not_started(self, argv: tuple[str, ...], exc: OSError) -> KernelCommandFailed:
        if isinstance(exc, FileNotFoundError):
            return KernelCommandFailed(argv, "not installed", NOT_INSTALLED, self.netns)
        return KernelCommandFailed(argv, str(exc), DID_NOT_FINISH, self.netns)

    def _failed(self, argv: tuple[str, ...], stderr: str, returncode: int) -> KernelCommandFailed:
        if self.netns is not None and not os.path.exists(self.netns):
            reason = f"network namespace {self.netns} is gone"
            return KernelCommandFailed(argv, stderr, returncode, self.netns, reason=reason)
        return KernelCommandFailed(argv, stderr, returncode, self.netns)


def run_all(jobs: Sequence[Callable[[], T]]) -> list[T]:
    """Run every job, several at a time (each mostly waits for a process); then raise
    the first failure, saying how many failed."""
    if len(jobs) <= 1:
        return [job() for job in jobs]
    errors: list[BaseException] = []
    results: list[T] = []
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(jobs))) as pool:
        for future in [pool.submit(job) for job in jobs]:
            exc = future.exception()
            if exc is None:
                results.append(future.result())
            else:
                errors.append(exc)
    if errors:
        first = errors[0]
        if len(errors) > 1 and isinstance(first, FaultError):
            first.message += f" (and {len(errors) - 1} more namespace(s) failed)"
            first.args = (first.message,)
        raise first
    return results


def _environment() -> dict[str, str]:
    """The caller's environment in the C locale: the output is parsed."""
    return {**os.environ, "LC_ALL": "C"}


def _relay_lines(stream: IO[bytes], sink: Log | None, kept: list[str]) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace").rstrip()
        if line:
            kept.append(line)
            del kept[:-20]
            if sink is not None:
                sink(line)


__all__ = [
    "COMMAND_TIMEOUT",
    "PARALLEL",
    "Completed",
    "FailAt",
    "Log",
    "Runner",
    "run_all",
]
