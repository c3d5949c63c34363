"""One netns cluster for the whole guest run: services a, b and c on one network,
each running `servers.py`; every test leaves it unshaped and unpartitioned.

These tests need the guest's kernel (`sch_netem`, `ifb`); they refuse to run
where `tc` cannot add a netem qdisc, rather than pass on the wrong path.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from squall.faults.model import Shape
from squall.linux.netns import entered
from squall.runtime.base import Waits
from squall.runtime.netns import naming
from squall.runtime.netns.backend import NetnsBackend
from squall.session import ClusterRef, Session
from squall.spec.loader import load_cluster
from tests.vm.guest.servers import ECHO_PORT

SERVICES = ("a", "b", "c")
SERVERS = Path(__file__).with_name("servers.py")


def compose() -> str:
    command = json.dumps([sys.executable, str(SERVERS)])
    return "services:\n" + "".join(f"  {s}: {{image: x, command: {command}}}\n" for s in SERVICES)


@dataclass
class Lane:
    """The cluster, with each service's namespace and address."""

    session: Session
    netns: dict[str, str]
    ips: dict[str, str]

    def shape(self, service: str, to: tuple[str, ...] = (), **fields: object) -> None:
        self.session.shape([service], Shape.from_dict(fields), to_services=to)


def wait_ready(netns: str, ip: str, limit: float = 60) -> None:
    """Until the echo server at `ip` accepts a connection (services start in seconds)."""
    deadline = time.monotonic() + limit
    while True:
        with entered(netns):
            sock = socket.socket()
        with sock:
            sock.settimeout(2)
            try:
                sock.connect((ip, ECHO_PORT))
                return
            except OSError:
                assert time.monotonic() < deadline, f"no echo server at {ip}"
        time.sleep(0.5)


@pytest.fixture(scope="session")
def netem_kernel() -> None:
    probe = subprocess.run(
        ("tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert probe.returncode == 0, f"this kernel has no sch_netem: {probe.stderr}"
    subprocess.run(("tc", "qdisc", "del", "dev", "lo", "root"), check=True)


@pytest.fixture(scope="session")
def cluster(netem_kernel: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lane]:
    folder = tmp_path_factory.mktemp("lane")
    project = f"vm{secrets.token_hex(3)}"
    file = folder / "compose.yaml"
    file.write_text(compose())
    backend = NetnsBackend(folder / "state", Waits(stop=3))
    session = Session.create(
        ClusterRef(project, load_cluster(file, project=project)), backend, folder / "state"
    )
    session.up()
    try:
        states = {s.service: s for s in session.status()}
        lane = Lane(
            session,
            {s: naming.netns_path(project, s) for s in SERVICES},
            {s: str(states[s].addresses[0].ip) for s in SERVICES},
        )
        for service in SERVICES:
            wait_ready(lane.netns["a"], lane.ips[service])
        yield lane
    finally:
        session.down()


@pytest.fixture
def lane(cluster: Lane) -> Iterator[Lane]:
    """The cluster; after the test no shape and no partition is left in force."""
    yield cluster
    cluster.session.fast(list(SERVICES))
    cluster.session.join()
