"""The watcher on the netns backend: it follows the supervisor's restarts.

A netns service keeps its namespace across restarts, so its rules normally survive;
here they are also removed by hand before the service crashes, and the restart that
its `restart: always` policy makes (the supervisor, not Squall) must bring them back
within a second, proven by UDP and ICMP counted on the receiving side. `down` leaves
no watcher behind.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import squall.detach as detach
from squall.faults.partition import groups_partition
from squall.runtime.base import Waits
from squall.runtime.netns import naming
from squall.runtime.netns.backend import NetnsBackend
from squall.session import ClusterRef, Session
from squall.spec.loader import load_cluster
from squall.watcher import MODULE, watcher_status
from tests.integration.traffic import icmp_delivered, udp_delivered

IDLE = """["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]"""
COMPOSE = f"""\
services:
  a: {{image: x, command: {IDLE}}}
  b: {{image: x, command: {IDLE}, restart: always}}
"""


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    if os.geteuid() != 0 or not shutil.which("iptables-restore"):
        pytest.skip("needs root and iptables")
    project = f"sqw{secrets.token_hex(3)}"
    file = tmp_path / "compose.yaml"
    file.write_text(COMPOSE)
    backend = NetnsBackend(tmp_path / "state", Waits(stop=3))
    session = Session.create(
        ClusterRef(project, load_cluster(file, project=project)), backend, tmp_path / "state"
    )
    session.up()
    try:
        yield session
    finally:
        session.down()


def where(session: Session, service: str) -> tuple[str, str, int | None]:
    """The service's namespace (kept while it restarts), address and pid (None then)."""
    state = next(s for s in session.status() if s.service == service)
    assert state.addresses[0].ip, state
    return naming.netns_path(session.project, service), state.addresses[0].ip, state.pid


def delivered(session: Session) -> dict[str, int]:
    (a, a_ip, _), (b, b_ip, _) = where(session, "a"), where(session, "b")
    return {
        "udp a->b": udp_delivered(a, b, b_ip, wait=0.15),
        "udp b->a": udp_delivered(b, a, a_ip, wait=0.15),
        "icmp a->b": icmp_delivered(a, b, b_ip, wait=0.15),
        "icmp b->a": icmp_delivered(b, a, a_ip, wait=0.15),
    }


def test_a_supervisor_restart_brings_lost_rules_back_and_down_stops_the_watcher(
    session: Session,
) -> None:
    session.partition(groups_partition([["a"], ["b"]]))
    assert set(delivered(session).values()) == {0}
    watcher = watcher_status(session.state.path)
    assert watcher.running and watcher.pid is not None
    b_netns, _, b_pid = where(session, "b")
    assert b_pid is not None
    subprocess.run(("nsenter", f"--net={b_netns}", "iptables", "-F"), check=True)
    assert delivered(session)["udp a->b"] == 20  # no event: nothing repairs it yet
    os.killpg(b_pid, signal.SIGKILL)  # a crash; the supervisor restarts b
    deadline = time.monotonic() + 5
    while where(session, "b")[2] in (None, b_pid):
        assert time.monotonic() < deadline, "b was not restarted"
        time.sleep(0.02)
    restarted = time.monotonic()
    (a, _, _), (b, b_ip, _) = where(session, "a"), where(session, "b")
    while udp_delivered(a, b, b_ip, count=5, wait=0.03):
        assert time.monotonic() - restarted < 1.0, "not repaired within 1 s of the start"
    assert set(delivered(session).values()) == {0}
    repaired = [e for e in session.events() if e.who == "watcher"]
    assert [(e.what, e.targets) for e in repaired] == [("reconcile", ("b",))]
    session.down()
    assert detach.find(detach.Marker(MODULE, "--project", session.project)) == []
