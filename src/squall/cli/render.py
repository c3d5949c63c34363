"""Tables and JSON for what the backends report; readable at 80 columns."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from squall.cluster_status import ClusterStatus, ServiceFaults
from squall.faults.partition import group_text
from squall.runtime.base import NetworkState
from squall.watcher import WatcherStatus


def to_json(items: Sequence[NetworkState]) -> str:
    return json.dumps([dataclasses.asdict(item) for item in items], indent=2)


def status_json(status: ClusterStatus) -> str:
    return json.dumps(status.to_dict(), indent=2)


def _faults_cell(faults: ServiceFaults) -> Text:
    text = Text()
    lines: list[tuple[str, str]] = [(s, "cyan") for s in faults.shapes]
    if faults.cannot_reach:
        lines.append(("cut from " + group_text(faults.cannot_reach), "magenta"))
    lines += [(f"drift: {d}", "bold red") for d in faults.drift]
    lines += [(f"note: {n}", "yellow") for n in faults.notes]
    for i, (line, style) in enumerate(lines):
        text.append(("\n" if i else "") + line, style=style)
    return text if lines else Text("-")


def status_table(status: ClusterStatus, *, kernel_note: bool = True) -> Table:
    """The cluster as a table; `kernel_note` says so when the kernel was not read (`up`
    skips reading it for speed and says nothing)."""
    table = Table(title=f"cluster {status.project}", title_justify="left", box=None, pad_edge=False)
    hosts = any(entry.state.host for entry in status.services)
    table.add_column("SERVICE", no_wrap=True)
    if hosts:
        table.add_column("HOST", no_wrap=True)
    table.add_column("ID", no_wrap=True)
    table.add_column("STATE", no_wrap=True)
    table.add_column("NETWORKS", no_wrap=True)
    table.add_column("FAULTS")
    for entry in status.services:
        s = entry.state
        nets = "\n".join(f"{a.network} {a.ip or '-'}" for a in s.addresses) or "-"
        style = {"running": "green", "missing": "red", "exited": "yellow"}.get(s.state, "")
        state = s.state if not s.health else f"{s.state} ({s.health})"
        where = (s.host or "-",) if hosts else ()
        table.add_row(
            s.member,
            *where,
            (s.id or "-")[:12],
            Text(state, style=style),
            nets,
            _faults_cell(entry.faults),
        )
    if status.partition:
        groups = " | ".join(group_text(g) for g in status.partition.groups)
        table.caption = f"partition ({status.partition.kind}) {groups}".rstrip()
    if status.shaper is not None and not status.shaper.running:
        table.caption = (table.caption or "") + "\nshaper NOT running: run `squall fast --all`"
    if status.watcher is not None:
        table.caption = (table.caption or "") + "\n" + _watcher_line(status.watcher)
    if kernel_note and not status.kernel_checked:
        table.caption = (table.caption or "") + "\n(kernel not read: not root; drift unknown)"
    table.caption_justify = "left"
    return table


def _watcher_line(watcher: WatcherStatus) -> str:
    if not watcher.running:
        return "watcher NOT running: faults lapse when a service restarts (`squall reconcile`)"
    line = f"watcher {watcher.pid}: faults follow restarts"
    report = watcher.report
    if report is not None and report.last_repair:
        line += f"; {report.repairs} repair(s), last: {report.last_repair}"
    if report is not None and report.error:
        line += f"; ERROR: {report.error}"
    return line


def network_table(networks: Sequence[NetworkState], project: str) -> Table:
    table = Table(title=f"networks of {project}", title_justify="left", box=None, pad_edge=False)
    table.add_column("NETWORK", no_wrap=True)
    table.add_column("ENGINE NAME", no_wrap=True)
    table.add_column("SUBNET", no_wrap=True)
    table.add_column("FLAGS", no_wrap=True)
    table.add_column("SERVICES")
    for n in networks:
        flags = ",".join(f for f, on in (("internal", n.internal), ("external", n.external)) if on)
        table.add_row(
            n.name,
            n.backend_name,
            ",".join(n.subnets) or "-",
            flags or "-",
            ", ".join(n.services) or "-",
        )
    return table
