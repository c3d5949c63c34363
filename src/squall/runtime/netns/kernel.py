"""The netns backend's low level: `ip` and `iptables` calls, 1:1, and the host-wide lock.

Every call is an argv list (batches go to `ip -batch -` on stdin), run by
`squall.linux.commands`, which logs it (`-v`) and turns a failure into
`KernelCommandFailed` naming the command and the kernel's words.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import socket
import time
from collections.abc import Iterator, Sequence
from ipaddress import IPv4Network
from typing import Any

from squall.errors import BackendError
from squall.linux.commands import Log, Runner, run_all
from squall.runtime.netns import naming

JSON = dict[str, Any]
LOCK_ADDRESS = "\0squall-netns-allocation"
LOCK_TIMEOUT = 60.0


class Kernel:
    """Runs `ip`/`iptables` from the host; `log` receives each command (`-v`)."""

    def __init__(self, log: Log | None = None) -> None:
        self._runner = Runner(log)

    # ip ------------------------------------------------------------------------------

    def batch(self, lines: Sequence[str], netns: str | None = None, *, force: bool = False) -> None:
        """Run `ip [-n NETNS] [-force] -batch -` with `lines`; no-op when empty."""
        if not lines:
            return
        argv = ["ip"]
        if netns is not None:
            argv += ["-n", netns]
        if force:
            argv.append("-force")
        self._runner.run([*argv, "-batch", "-"], "\n".join(lines) + "\n", check=not force)

    def batches(self, jobs: Sequence[tuple[str, Sequence[str]]]) -> None:
        """One `ip -n NETNS -batch -` per (netns, lines), several at a time."""
        run_all([functools.partial(self.batch, lines, ns) for ns, lines in jobs if lines])

    def links(self) -> list[JSON]:
        """`ip -j link show` in the host's namespace."""
        out = self._runner.run(["ip", "-j", "link", "show"]).stdout
        return list(json.loads(out or "[]"))

    def routed_subnets(self) -> list[IPv4Network]:
        """Every IPv4 destination the host routes, in any table (default routes aside)."""
        out = self._runner.run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout
        found: list[IPv4Network] = []
        for route in json.loads(out or "[]"):
            dst = str(route.get("dst", ""))
            if not dst or dst == "default":
                continue
            with contextlib.suppress(ValueError):
                network = IPv4Network(dst, strict=False)
                if not network.is_loopback and network.prefixlen > 0:
                    found.append(network)
        return found

    # iptables ------------------------------------------------------------------------

    def iptables_save(self, table: str) -> str:
        return self._runner.run(["iptables-save", "-t", table]).stdout

    def iptables_restore(self, text: str) -> None:
        """`iptables-restore --noflush`: one atomic change per table in `text`."""
        self._runner.run(["iptables-restore", "--noflush"], text)


def netns_names() -> list[str]:
    """Names under /run/netns (none if the directory does not exist)."""
    try:
        return sorted(os.listdir(naming.NETNS_DIR))
    except FileNotFoundError:
        return []


@contextlib.contextmanager
def allocation_lock(timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Host-wide: one `up`/`net` command at a time picks subnets and link names.

    The lock is a bound abstract unix socket: nothing on disk to leave behind, and
    the kernel releases it when its holder dies. (/run/netns itself cannot be flocked:
    `ip netns add` takes that lock.)

    Raises:
        BackendError: another holder kept it for `timeout` seconds.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock.bind(LOCK_ADDRESS)
                break
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise BackendError(f"cannot take the netns allocation lock: {exc}") from exc
                if time.monotonic() > deadline:
                    raise BackendError(
                        "another squall command has held the netns allocation lock for "
                        f"{timeout:g}s"
                    ) from exc
                time.sleep(0.01)
        yield
    finally:
        sock.close()


def require_root() -> None:
    if os.geteuid() != 0:
        raise BackendError(
            "the netns backend needs root (network namespaces, bridges, mounts); "
            "run squall with sudo or use the docker backend"
        )


__all__ = [
    "Kernel",
    "allocation_lock",
    "netns_names",
    "require_root",
]
