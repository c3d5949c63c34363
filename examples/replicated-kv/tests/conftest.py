"""A client for kv.py, and a fixture that hands each test a fresh primary and replica."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

import squall

PORT = 7000


class Node:
    """One kv.py server, reached at its container address from the test host."""

    def __init__(self, cluster: squall.Cluster, service: str) -> None:
        self.cluster = cluster
        self.service = service

    def ask(self, line: str, timeout: float = 2.0) -> str:
        address = self.cluster.address(self.service)
        with socket.create_connection((address, PORT), timeout=timeout) as conn:
            conn.sendall(line.encode() + b"\n")
            return conn.makefile("rb").readline().decode().strip()

    def wait_ready(self, seconds: float = 20.0) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                if self.ask("ROLE").startswith("ROLE"):
                    return
            except OSError:
                pass
            assert time.monotonic() < deadline, f"{self.service} never answered"
            time.sleep(0.2)

    def set(self, key: str, value: str) -> bool:
        """True when the write was acknowledged."""
        return self.ask(f"SET {key} {value}") == "OK"

    def get(self, key: str) -> str | None:
        reply = self.ask(f"GET {key}")
        return reply.split(" ", 1)[1] if reply.startswith("VALUE ") else None


@pytest.fixture
def kv(squall: squall.Cluster) -> Iterator[tuple[Node, Node]]:
    """(primary, replica), both up, empty and in their starting roles."""
    primary, replica = Node(squall, "primary"), Node(squall, "replica")
    for node in (primary, replica):
        node.wait_ready()
        assert node.ask("RESET") == "OK"
    yield primary, replica


def wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Poll `predicate` until it holds or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()
