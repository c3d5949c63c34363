"""Progress of long work: a live table on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

SHOWN = 10
"""Subjects a terminal shows one line each before the rest fold into a count."""


class ConsoleProgress:
    """Implements `squall.runtime.base.Progress` for the CLI.

    On a terminal each subject (a network, a service, an image) keeps one line that
    updates in place, and once more than `SHOWN` are done they fold into one count
    (a thousand services stay one screen); elsewhere (CI, pipes) every step is one
    plain line, so logs read the same as what a person saw.
    """

    def __init__(self, console: Console, *, title: str) -> None:
        self._console = console
        self._title = title
        self._rows: dict[str, tuple[str, bool]] = {}
        self._live: Live | None = None
        self._started = 0.0

    def __enter__(self) -> ConsoleProgress:
        self._started = time.monotonic()
        if self._console.is_terminal:
            self._live = Live(self._render(), console=self._console, transient=False)
            self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.update(self._render(final=True))
            self._live.__exit__(exc_type, exc, tb)
            self._live = None

    def step(self, subject: str, message: str, *, done: bool = False) -> None:
        self._rows[subject] = (message, done)
        if self._live is not None:
            self._live.update(self._render())
        else:
            # plain lines: rich would lay out each one, a second per thousand services
            print(f"{subject}: {message}", file=self._console.file, flush=True)

    def _render(self, final: bool = False) -> Group:
        elapsed = time.monotonic() - self._started
        table = Table.grid(padding=(0, 1))
        rows = list(self._rows.items())
        done_count = waiting = 0
        if len(rows) > SHOWN:
            pending = [row for row in rows if not (row[1][1] or final)]
            done_count, waiting = len(rows) - len(pending), max(0, len(pending) - SHOWN)
            rows = pending[:SHOWN]
        for subject, (message, done) in rows:
            mark: Text | Spinner = (
                Text("✔", style="green") if done or final else Spinner("dots", style="cyan")
            )
            table.add_row(mark, Text(subject, style="bold"), Text(message))
        if waiting:
            table.add_row(Spinner("dots", style="cyan"), Text(f"{waiting} more"), Text("to go"))
        if done_count:
            table.add_row(Text("✔", style="green"), Text(f"{done_count} more"), Text("done"))
        header = Text(f"{self._title} ({elapsed:.1f}s)", style="bold")
        return Group(header, table)
