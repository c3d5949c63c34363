"""Throwaway network namespaces for shaper tests, and how to measure traffic in them.

Namespaces are named `sqt-<random>`, addressed 10.203.<n>.1/.2 inside only; the rules
installed are the forms recommended to the planner.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from squall.faults.shaper import control
from squall.faults.shaper_config import (
    SHAPER_MARK,
    SHAPER_MARK_MASK,
    NamespaceQueues,
    QueueSpec,
    ShaperConfig,
)
from squall.linux import netns

_UNMARKED = ("-m", "mark", "!", "--mark", f"{SHAPER_MARK:#x}/{SHAPER_MARK_MASK:#x}")
_RTT = re.compile(r"time=([\d.]+) ms")
_SUMMARY = re.compile(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms")


def need(condition: bool, reason: str) -> None:
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=30)


@dataclass
class Ping:
    """Replies of one ping run. Per reply, ping prints 3 digits (`time=101 ms`); its
    summary's average keeps microseconds, so `mean` is the precise figure."""

    rtts: list[float]
    duplicates: int
    output: str

    @property
    def mean(self) -> float:
        found = _SUMMARY.search(self.output)
        return float(found.group(2)) if found else sum(self.rtts) / len(self.rtts)


@dataclass
class NetPair:
    """Namespaces `a` and `b` (names), joined by veths `dev_a` / `dev_b`."""

    a: str
    b: str
    net: int
    dev_a: str = "sqa0"
    dev_b: str = "sqb0"
    extra: list[str] = field(default_factory=list)

    @property
    def ip_a(self) -> str:
        return f"10.203.{self.net}.1"

    @property
    def ip_b(self) -> str:
        return f"10.203.{self.net}.2"

    @staticmethod
    def path(name: str) -> str:
        return f"/run/netns/{name}"

    def queue_egress(self, ns: str, dev: str, num: int, *match: str) -> None:
        """The egress rule form the planner should write (re-sent copies carry the mark)."""
        sh(
            "ip",
            "netns",
            "exec",
            ns,
            "iptables",
            "-t",
            "mangle",
            "-A",
            "POSTROUTING",
            "-o",
            dev,
            *match,
            *_UNMARKED,
            "-j",
            "NFQUEUE",
            "--queue-num",
            str(num),
            "--queue-bypass",
        )

    def queue_ingress(self, ns: str, dev: str, num: int, *match: str) -> None:
        """The ingress rule form: packets arriving on `dev`, verdict held until due."""
        sh(
            "ip",
            "netns",
            "exec",
            ns,
            "iptables",
            "-t",
            "mangle",
            "-A",
            "PREROUTING",
            "-i",
            dev,
            *match,
            *_UNMARKED,
            "-j",
            "NFQUEUE",
            "--queue-num",
            str(num),
            "--queue-bypass",
        )

    def ping(self, count: int = 20, interval: float = 0.05, wait: float = 2.0) -> Ping:
        """ping from a to b; RTTs in ms of the replies (duplicates counted apart)."""
        done = sh(
            "ip",
            "netns",
            "exec",
            self.a,
            "ping",
            "-n",
            "-c",
            str(count),
            "-i",
            str(interval),
            "-W",
            str(wait),
            self.ip_b,
            check=False,
        )
        rtts, dups = [], 0
        for line in done.stdout.splitlines():
            found = _RTT.search(line)
            if not found:
                continue
            if "DUP!" in line:
                dups += 1
            else:
                rtts.append(float(found.group(1)))
        return Ping(rtts, dups, done.stdout + done.stderr)

    def socket_in(self, ns: str, kind: int, bind: tuple[str, int] | None = None) -> socket.socket:
        """A socket created inside namespace `ns` (this thread comes back at once)."""
        with netns.entered(self.path(ns)):
            sock = socket.socket(socket.AF_INET, kind)
        if bind is not None:
            sock.bind(bind)
        return sock

    def snmp(self, ns: str, proto: str, name: str) -> int:
        text = sh("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").stdout
        lines = [line.split() for line in text.splitlines() if line.startswith(proto + ":")]
        header, values = lines[0], lines[1]
        return int(values[header.index(name)])


@dataclass
class Shaper:
    """The shaper of one test's state directory."""

    state_dir: Path

    def ensure(self, *namespaces: NamespaceQueues) -> int:
        return control.ensure_shaper(self.state_dir, ShaperConfig(namespaces=namespaces))

    def status(self) -> control.ShaperStatus:
        return control.shaper_status(self.state_dir)


def one(pair_ns: str, *queues: QueueSpec, label: str = "test/a") -> NamespaceQueues:
    return NamespaceQueues(netns=NetPair.path(pair_ns), label=label, queues=queues)
