"""The hosts a cluster was brought up on, kept in its state directory.

`down -p NAME`, `status -p NAME` and the detached processes (watcher, timer, chaos)
open a cluster without its file; this record tells them which engines to ask. It is
written by `up` before anything is created, so a crash mid-`up` leaves it behind for
`down`, and removed with the state directory by `down`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from squall.atomic import write_atomic
from squall.spec.model import HostSpec, TlsFiles

RECORD = "hosts.json"


def save_hosts(state_dir: Path, hosts: tuple[HostSpec, ...]) -> None:
    rows = [
        {
            "name": h.name,
            "engine": h.engine,
            "address": h.address,
            "agent": h.agent,
            "tls": dataclasses.asdict(h.tls) if h.tls is not None else None,
        }
        for h in hosts
    ]
    state_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(state_dir / RECORD, json.dumps({"hosts": rows}))


def load_hosts(state_dir: Path) -> tuple[HostSpec, ...]:
    """The recorded hosts; none when there is no record or it cannot be read."""
    try:
        rows = json.loads((state_dir / RECORD).read_text())["hosts"]
        return tuple(
            HostSpec(
                name=str(r["name"]),
                engine=str(r["engine"]),
                address=r.get("address"),
                agent="always" if r.get("agent") == "always" else "auto",
                tls=TlsFiles(**r["tls"]) if r.get("tls") else None,
            )
            for r in rows
        )
    except (OSError, ValueError, KeyError, TypeError):
        return ()
