"""Running argv lists inside one network namespace, and in many at once.

Process start-up dominates, so commands run from worker threads that have entered the
namespace (`setns`, the thread only; children inherit it), which spares an `nsenter`
per command, and many namespaces are done in parallel. `-v` logs each command as the
equivalent `nsenter --net=PATH -- ...`. Failures of those programs become
`KernelCommandFailed` in `_Namespace.run`, the one place they are translated.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from squall.errors import FaultError, KernelCommandFailed
from squall.linux.netns import entered

Log = Callable[[str], None]
T = TypeVar("T")
COMMAND_TIMEOUT = 30.0
PARALLEL = 16
"""Threads for many namespaces: each mostly waits for a child process."""


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class _Namespace:
    """Runs argv lists inside one network namespace; translates their failures."""

    def __init__(self, netns: str | None, log: Log | None = None) -> None:
        self.netns = netns
        """None: the host's own namespace (for `ip netns add`)."""
        self.log = log

    def run(self, argv: Sequence[str], stdin: str | None = None, check: bool = True) -> Completed:
        shown = tuple(argv)
        if self.netns is not None:
            shown = ("nsenter", f"--net={self.netns}", "--", *argv)
        if self.log:
            self.log(" ".join(shlex.quote(a) for a in shown) + (" <<EOF" if stdin else ""))
            if stdin:
                for line in stdin.rstrip("\n").splitlines():
                    self.log("    " + line)
        try:
            with self.entered():
                proc = subprocess.run(
                    tuple(argv),
                    input=stdin,
                    capture_output=True,
                    text=True,
                    timeout=COMMAND_TIMEOUT,
                    env={**os.environ, "LC_ALL": "C"},
                    check=False,
                )
        except FileNotFoundError as exc:
            raise FaultError(
                f"{argv[0]}: not installed ({exc.filename})", netns=self.netns
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise KernelCommandFailed(
                tuple(argv), f"timed out after {COMMAND_TIMEOUT:g}s", -1, self.netns
            ) from exc
        result = Completed(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            if self.netns is not None and not os.path.exists(self.netns):
                raise FaultError(f"network namespace {self.netns} is gone", netns=self.netns)
            raise KernelCommandFailed(tuple(argv), proc.stderr, proc.returncode, self.netns)
        return result

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


def _parallel(jobs: Sequence[Callable[[], T]]) -> list[T]:
    """Run all jobs; then raise the first failure, naming how many failed."""
    if not jobs:
        return []
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
