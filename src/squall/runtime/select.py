"""Pick a backend by name; imports are lazy so `--help` never touches an engine.

`auto` keeps a cluster where it is (netns when the kernel holds its namespaces or its
supervisor), else picks docker when an engine answers and netns otherwise, and says
which through `notice`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from squall.errors import BackendError, UsageError
from squall.runtime.netns import naming
from squall.spec.model import HostSpec

if TYPE_CHECKING:
    from squall.runtime.base import Backend

BACKEND_NAMES = ("auto", "docker", "netns")
PING_TIMEOUT = 1.0


def choose_backend(
    name: str,
    *,
    preferred: str | None = None,
    project: str | None = None,
    notice: Callable[[str], None] | None = None,
) -> str:
    """Resolve `auto`: the file's `preferred` backend (`x-squall: backend`), else the one
    cluster `project` already lives on, else docker if an engine answers, else netns.
    Says which (and why) through `notice`. Other names pass through unchanged."""
    if name == "auto" and preferred and preferred != "auto":
        return preferred
    if name == "auto":
        name, why = _choose(project)
        if notice is not None:
            notice(f"backend: {name} ({why})")
    return name


def make_backend(
    name: str,
    *,
    preferred: str | None = None,
    project: str | None = None,
    notice: Callable[[str], None] | None = None,
    log: Callable[[str], None] | None = None,
    hosts: Sequence[HostSpec] = (),
) -> Backend:
    """The backend `name` (`auto` resolved by `choose_backend` with the same hints).

    `log` receives every kernel command the netns backend runs (`-v`); the Docker
    backend logs its engine calls to the `squall` logger instead. With `hosts` (the
    engines of `x-squall: hosts`), the cluster spans them all.
    """
    if hosts:
        if name not in ("auto", "docker") or preferred == "netns":
            raise UsageError(
                "a cluster on several hosts (x-squall: hosts, -H) runs on the docker backend"
            )
        from squall.runtime.swarm.backend import SwarmBackend

        return SwarmBackend(hosts)
    name = choose_backend(name, preferred=preferred, project=project, notice=notice)
    if name == "docker":
        from squall.runtime.docker.backend import DockerBackend

        return DockerBackend()
    if name == "netns":
        from squall.runtime.netns.backend import NetnsBackend

        return NetnsBackend(log=log)
    raise UsageError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")


def _choose(project: str | None) -> tuple[str, str]:
    if project is not None and _netns_cluster_exists(project):
        return "netns", f"cluster {project!r} runs on it"
    url = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if _engine_answers(url):
        return "docker", f"a Docker Engine answers at {url}"
    return "netns", f"no Docker Engine answers at {url}; pass --backend to choose"


def _netns_cluster_exists(project: str) -> bool:
    try:
        names = os.listdir(naming.NETNS_DIR)
    except OSError:
        return False
    return any(naming.service_of_netns(project, n) for n in names)


def _engine_answers(url: str) -> bool:
    """`GET /_ping` on a unix socket (no SDK import: that alone costs ~0.2 s); any other
    URL is asked through the SDK."""
    if url.startswith("unix://"):
        path = Path(url[len("unix://") :])
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(PING_TIMEOUT)
                sock.connect(str(path))
                sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                reply = sock.recv(64)
        except OSError:
            return False
        return reply.startswith(b"HTTP/1.") and b" 200 " in reply
    from squall.runtime.docker.engine import DockerEngine

    engine = DockerEngine()
    try:
        engine.ping()
    except BackendError:
        return False
    finally:
        engine.close()
    return True
