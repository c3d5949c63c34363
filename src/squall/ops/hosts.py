"""`squall hosts ls|check`: the engines a cluster file names, and what each can do.

A host whose engine is proved to run on this kernel has this machine's kernel features;
the features of any other host are read through its agent once it runs (until then:
unknown). The file's hosts come with `-H NAME=URL` flags applied; a file without
`x-squall: hosts` has one host, `local`, the engine of `DOCKER_HOST`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from squall.faults.kernel import kernel_caps
from squall.faults.plan import KernelCaps
from squall.ops.opening import Where, resolve_cluster
from squall.runtime.docker.engine import DEFAULT_HOST
from squall.runtime.swarm.engines import engine_of
from squall.runtime.swarm.report import HostReport, check_host
from squall.spec.model import HostSpec
from squall.state import default_state_root

LOCAL_HOST = "local"


@dataclass(frozen=True)
class HostCheck:
    """One row of `squall hosts check`: the engine's report and its kernel's features."""

    report: HostReport
    netem: bool | None = None
    nfqueue: bool | None = None
    """None: unknown (a host not proved to be this kernel, and no agent has told)."""


def cluster_hosts(where: Where) -> tuple[str | None, tuple[HostSpec, ...]]:
    """The project and its hosts (from the file, with -H flags), or the one local host.

    Raises:
        SpecError, UsageError: see `resolve_cluster` and `spec.hosts.with_hosts`.
    """
    cluster = resolve_cluster(where, need_file=False)
    hosts = cluster.spec.options.hosts if cluster.spec is not None else ()
    if not hosts:
        url = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        hosts = (HostSpec(LOCAL_HOST, url),)
    return cluster.project, hosts


def check_hosts(
    project: str | None, hosts: Sequence[HostSpec], caps: Callable[[], KernelCaps]
) -> list[HostCheck]:
    """Every host asked at once (an engine that does not answer costs its timeout once)."""

    def one(host: HostSpec) -> HostReport:
        engine = engine_of(host)
        try:
            return check_host(host, engine, project)
        finally:
            engine.close()

    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        reports = list(pool.map(one, hosts))
    checks = []
    for report in reports:
        if report.same_kernel:
            here = caps()
            checks.append(HostCheck(report, here.netem, here.nfqueue))
        else:
            checks.append(HostCheck(report))
    return checks


def listed(host: HostSpec) -> dict[str, object]:
    """`squall hosts ls` of one host: what the file (and -H) say, nothing contacted."""
    return {
        "name": host.name,
        "engine": host.engine,
        "address": host.reach,
        "agent": host.agent,
        "tls": host.tls is not None and host.tls.enabled,
    }


def local_caps() -> KernelCaps:
    """This kernel's features (probed once per boot, cached with the state)."""
    return kernel_caps(default_state_root())
