"""The netns backend's low level: `ip` and `iptables` calls, 1:1, and /proc scans.

Every call is an argv list (batches go to `ip -batch -` on stdin), and this module is
the one place where a failed command (`OSError`, a non-zero exit) becomes a
`BackendError` naming the command and the kernel's words.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Network
from typing import Any

from squall.errors import BackendError
from squall.runtime.netns import naming

Log = Callable[[str], None]
_logger = logging.getLogger("squall.netns")
JSON = dict[str, Any]
COMMAND_TIMEOUT = 30.0
PARALLEL = 16
LOCK_ADDRESS = "\0squall-netns-allocation"
LOCK_TIMEOUT = 60.0


class Kernel:
    """Runs `ip`/`iptables` from the host; `log` receives each command (`-v`)."""

    def __init__(self, log: Log | None = None) -> None:
        self.log = log or _logger.debug

    def _run(
        self, argv: Sequence[str], stdin: str | None = None, *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        if self.log is not _logger.debug or _logger.isEnabledFor(logging.DEBUG):
            shown = " ".join(argv)
            if stdin:
                lines = stdin.strip().splitlines()
                shown += f" <<{len(lines)} line(s): " + " | ".join(lines[:3])
                shown += " ..." if len(lines) > 3 else ""
            self.log(shown)
        try:
            proc = subprocess.run(
                list(argv),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        except FileNotFoundError as exc:
            raise BackendError(
                f"{argv[0]} is not installed; the netns backend needs iproute2 and iptables"
            ) from exc
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackendError(f"{' '.join(argv[:4])}: {exc}") from exc
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().replace("\n", "; ")
            raise BackendError(f"`{' '.join(argv[:6])}` failed: {detail[:500]}")
        return proc

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
        self._run([*argv, "-batch", "-"], "\n".join(lines) + "\n", check=not force)

    def batches(self, jobs: Sequence[tuple[str, Sequence[str]]]) -> None:
        """One `ip -n NETNS -batch -` per (netns, lines), several at a time."""
        jobs = [(ns, lines) for ns, lines in jobs if lines]
        if len(jobs) <= 1:
            for ns, lines in jobs:
                self.batch(lines, ns)
            return
        with ThreadPoolExecutor(max_workers=min(PARALLEL, len(jobs))) as pool:
            for future in [pool.submit(self.batch, lines, ns) for ns, lines in jobs]:
                future.result()

    def links(self) -> list[JSON]:
        """`ip -j link show` in the host's namespace."""
        out = self._run(["ip", "-j", "link", "show"]).stdout
        return list(json.loads(out or "[]"))

    def routed_subnets(self) -> list[IPv4Network]:
        """Every IPv4 destination the host routes, in any table (default routes aside)."""
        out = self._run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout
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
        return self._run(["iptables-save", "-t", table]).stdout

    def iptables_restore(self, text: str) -> None:
        """`iptables-restore --noflush`: one atomic change per table in `text`."""
        self._run(["iptables-restore", "--noflush"], text)


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
