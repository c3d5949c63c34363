"""Throwaway network namespaces for fault tests: a bridge and three hosts.

Everything is created under names `sqt-<random>-...` and removed in finalizers;
traffic only ever flows between these namespaces.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from squall.faults.kernel import clear_many

HOSTS = ("a", "b", "c")
LISTENER = """
import socket, sys, threading
tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("0.0.0.0", int(sys.argv[1]))); tcp.listen(64)
print("ready", flush=True)
while True:
    conn, _ = tcp.accept(); conn.close()
"""


def _need(condition: bool, reason: str) -> None:
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


@dataclass
class Lab:
    prefix: str
    subnet: str
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    def ns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def path(self, host: str) -> str:
        return f"/run/netns/{self.ns(host)}"

    def ip(self, host: str) -> str:
        return f"{self.subnet}.{HOSTS.index(host) + 1}"

    def run(self, host: str, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ("ip", "netns", "exec", self.ns(host), *argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def popen(self, host: str, *argv: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            ("ip", "netns", "exec", self.ns(host), *argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        return proc

    def tcp_ok(self, src: str, dst: str, port: int = 7000) -> bool:
        code = (
            "import socket,sys\n"
            f"socket.create_connection(('{self.ip(dst)}', {port}), timeout=0.6).close()"
        )
        return self.run(src, sys.executable, "-c", code).returncode == 0

    def ping_ok(self, src: str, dst: str) -> bool:
        return self.run(src, "ping", "-n", "-q", "-c", "1", "-W", "1", self.ip(dst)).returncode == 0


@pytest.fixture(scope="package")
def lab() -> Iterator[Lab]:
    _need(os.geteuid() == 0, "fault integration tests need root")
    for tool in ("ip", "tc", "iptables-restore", "nsenter", "ping"):
        _need(shutil.which(tool) is not None, f"{tool} is not installed")
    lab = Lab(prefix=f"sqt-{secrets.token_hex(3)}", subnet=f"10.204.{secrets.randbelow(250) + 1}")
    created: list[str] = []
    try:
        for host in ("br", *HOSTS):
            sh("ip", "netns", "add", lab.ns(host))
            created.append(lab.ns(host))
        br = lab.ns("br")
        sh("ip", "-n", br, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", br, "link", "set", "br0", "up")
        for host in HOSTS:
            ns = lab.ns(host)
            sh(
                "ip",
                "-n",
                br,
                "link",
                "add",
                f"p-{host}",
                "type",
                "veth",
                "peer",
                "name",
                "sqt0",
                "netns",
                ns,
            )
            sh("ip", "-n", br, "link", "set", f"p-{host}", "master", "br0", "up")
            sh("ip", "-n", ns, "addr", "add", f"{lab.ip(host)}/24", "dev", "sqt0")
            sh("ip", "-n", ns, "link", "set", "sqt0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for host in HOSTS:
            proc = lab.popen(host, sys.executable, "-c", LISTENER, "7000")
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 5
        while not all(lab.ping_ok("a", h) for h in ("b", "c")):
            assert time.monotonic() < deadline, "lab network did not come up"
        yield lab
    finally:
        for proc in lab.procs:
            proc.kill()
            proc.wait()
        for name in created:
            subprocess.run(("ip", "netns", "del", name), check=False)


@pytest.fixture
def clean(lab: Lab) -> Iterator[Lab]:
    """The lab, with every Squall rule of tag `sqt` removed after the test."""
    yield lab
    clear_many([lab.path(h) for h in HOSTS], "sqt")
