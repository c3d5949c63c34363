"""Tables and JSON for what the backends report; readable at 80 columns."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from rich.table import Table

from squall.runtime.base import NetworkState, ServiceState


def to_json(items: Sequence[ServiceState] | Sequence[NetworkState]) -> str:
    return json.dumps([dataclasses.asdict(item) for item in items], indent=2)


def status_table(states: Sequence[ServiceState], project: str) -> Table:
    table = Table(title=f"cluster {project}", title_justify="left", box=None, pad_edge=False)
    table.add_column("SERVICE", no_wrap=True)
    table.add_column("ID", no_wrap=True)
    table.add_column("STATE", no_wrap=True)
    table.add_column("HEALTH", no_wrap=True)
    table.add_column("NETWORKS")
    for s in states:
        nets = "\n".join(f"{a.network} {a.ip or '-'}" for a in s.addresses) or "-"
        style = {"running": "green", "missing": "red", "exited": "yellow"}.get(s.state, "")
        table.add_row(
            s.service,
            (s.id or "-")[:12],
            f"[{style}]{s.state}[/]" if style else s.state,
            s.health or "-",
            nets,
        )
    return table


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
