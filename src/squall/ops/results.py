"""What a change did, as every front end reports it: a line, the plan, what changed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from squall.faults.controller import PlannedNamespace
from squall.faults.model import Partition
from squall.runtime.base import NetworkState

SUMMARY_NAMES = 10
"""Lists longer than this are summarised in messages (`--json` keeps them whole)."""


def names(items: Sequence[str], *, most: int = SUMMARY_NAMES) -> str:
    """`a, b, c`, or `a, b, ... (998 more)` when the list is long."""
    if len(items) <= most:
        return ", ".join(items)
    return ", ".join(items[:most]) + f", ... ({len(items) - most} more)"


@dataclass(frozen=True)
class Result:
    """The outcome of one request.

    `message` is the line a person reads; `planned` the kernel plan per namespace (the
    rules a `dry_run` would set, or those just applied); the other fields carry what a
    program may want back (the partition made, the chaos run started...).
    """

    what: str
    message: str
    services: tuple[str, ...] = ()
    dry_run: bool = False
    planned: tuple[PlannedNamespace, ...] = ()
    partition: Partition | None = None
    network: NetworkState | None = None
    pid: int | None = None
    seed: int | None = None

    @property
    def plan(self) -> list[str]:
        """With `dry_run`: the kernel rules per namespace, as `--dry-run` prints them."""
        return [p.plan.render() for p in self.planned] if self.dry_run else []

    @property
    def notes(self) -> list[str]:
        """Things worth saying about how the faults were applied, per service."""
        return [f"{p.service}: {note}" for p in self.planned for note in p.resolved.notes]


__all__ = ["SUMMARY_NAMES", "Result", "names"]
