"""The files a service sees over the host's: its /etc/hosts and /etc/resolv.conf, and
its output log (read back by `logs`).

The hosts and resolv files are bound into the service's mount namespace, so they are
rewritten in place (same inode): a rename would leave the binds on the old file.
"""

from __future__ import annotations

import contextlib
import errno
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from squall.errors import BackendError
from squall.runtime.netns import naming
from squall.runtime.netns.config import SupervisorConfig
from squall.runtime.netns.plan import Placement
from squall.runtime.netns.service import extras_from_json, hosts_extras
from squall.runtime.netns.topology import Topology, default_gateway, hosts_file, resolv_conf
from squall.spec.model import ClusterSpec

HOST_RESOLV = Path("/etc/resolv.conf")
FOLLOW_POLL = 0.1


def write_service_files(
    paths: naming.StatePaths,
    spec: ClusterSpec,
    topology: Topology,
    placements: Mapping[str, Placement],
) -> None:
    """Every service's hosts file (the peers it shares a network with) and resolv.conf."""
    host_resolv = _read(HOST_RESOLV)
    for service in spec.services:
        owner = placements[service.name].owner
        extras = hosts_extras(service)
        write_in_place(paths.hosts(service.name), hosts_file(service.name, topology, extras))
        write_in_place(
            paths.resolv(service.name),
            resolv_conf(host_resolv, default_gateway(topology, owner) is None),
        )


def rewrite_hosts(paths: naming.StatePaths, topology: Topology) -> None:
    """Every configured service's hosts file again, after `net connect`/`disconnect`."""
    config = SupervisorConfig.read(paths.config)
    if config is None:
        return
    for name, cfg in config.services.items():
        extras = extras_from_json(cfg.hosts_extras)
        write_in_place(paths.hosts(name), hosts_file(name, topology, extras))


def write_in_place(path: Path, text: str) -> None:
    """Rewrite a file bound into namespaces: same inode, or the binds would keep the old.

    Raises:
        BackendError: the file cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "r+") as handle:
            if handle.read() == text:
                return
            handle.seek(0)
            handle.write(text)
            handle.truncate()
    except FileNotFoundError:
        path.write_text(text)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise BackendError(f"cannot write {path}: {exc.strerror}") from exc


def read_log(
    path: Path, *, follow: bool, tail: int | None, running: Callable[[], bool]
) -> Iterator[bytes]:
    """A service's output as written (the last `tail` lines); with `follow`, what it
    writes next too, until `running()` says it stopped."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, across yields
    except FileNotFoundError:
        if not follow:
            return
        handle = None
    try:
        if handle is not None:
            data = handle.read()
            if tail is not None:
                lines = data.splitlines(keepends=True)
                data = b"".join(lines[-tail:]) if tail > 0 else b""
            if data:
                yield data
        while follow:
            if handle is None:
                with contextlib.suppress(FileNotFoundError):
                    handle = open(path, "rb")  # noqa: SIM115
            chunk = handle.read() if handle is not None else b""
            if chunk:
                yield chunk
                continue
            if not running():
                return
            time.sleep(FOLLOW_POLL)
    finally:
        if handle is not None:
            handle.close()


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


__all__ = ["read_log", "rewrite_hosts", "write_in_place", "write_service_files"]
