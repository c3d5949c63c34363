"""Fixtures: two throwaway namespaces joined by a veth pair, and a shaper serving them.

Each test gets its own `sqt-<random>` namespaces and its own state directory;
finalizers stop the shaper and delete the namespaces whatever happened.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from squall.faults.shaper import control
from tests.integration.faults.shaper.nets import NetPair, Shaper, need, sh


@pytest.fixture
def netpair() -> Iterator[NetPair]:
    need(os.geteuid() == 0, "needs root to create network namespaces")
    need(all(shutil.which(t) for t in ("ip", "iptables", "ping")), "needs ip, iptables, ping")
    tag = secrets.token_hex(3)
    pair = NetPair(a=f"sqt-{tag}a", b=f"sqt-{tag}b", net=secrets.randbelow(200) + 20)
    created: list[str] = []
    try:
        for name in (pair.a, pair.b):
            sh("ip", "netns", "add", name)
            created.append(name)
        sh(
            "ip",
            "link",
            "add",
            pair.dev_a,
            "netns",
            pair.a,
            "type",
            "veth",
            "peer",
            "name",
            pair.dev_b,
            "netns",
            pair.b,
        )
        for ns, dev, ip in ((pair.a, pair.dev_a, pair.ip_a), (pair.b, pair.dev_b, pair.ip_b)):
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield pair
    finally:
        for name in created + pair.extra:
            sh("ip", "netns", "del", name, check=False)


@pytest.fixture
def shaper(tmp_path: Path) -> Iterator[Shaper]:
    helper = Shaper(tmp_path / "state")
    try:
        yield helper
    finally:
        control.stop_shaper(helper.state_dir)
