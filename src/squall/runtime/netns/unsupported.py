"""What the netns backend does instead of a service's container settings. Pure.

A netns service is a process group on the host, not a container: there is no cgroup,
root filesystem, log driver or exec of its own, so those keys cannot be honoured. Each
kind that some service uses gets one line naming the services and saying what runs
instead; every one of those services still starts.
"""

from __future__ import annotations

from collections.abc import Callable

from squall.spec.model import ClusterSpec, ServiceSpec

Check = tuple[str, Callable[[ServiceSpec], bool], str]


def _own_filesystem(service: ServiceSpec) -> bool:
    settings = service.settings
    return settings.read_only or bool(settings.tmpfs) or service.resources.shm_size is not None


def _limited(service: ServiceSpec) -> bool:
    r = service.resources
    values = (r.cpus, r.cpu_shares, r.memory, r.memory_reservation, r.cpus_reservation, r.pids)
    return any(v is not None for v in values)


_CHECKS: tuple[Check, ...] = (
    (
        "`deploy.replicas`/`scale` other than 1",
        lambda s: s.scale != 1,
        "one process runs for each (replica counts need the Docker backend)",
    ),
    (
        "cgroup limits (`cpus`, `mem_limit`, `pids_limit`, `deploy.resources`...)",
        _limited,
        "not set: the processes share the host's CPU, memory and process table",
    ),
    (
        "`ulimits`",
        lambda s: bool(s.resources.ulimits),
        "not applied: the processes keep the supervisor's limits",
    ),
    (
        "`read_only`, `tmpfs` and `shm_size`",
        _own_filesystem,
        "not applied: the processes use the host's filesystem as it is",
    ),
    (
        "`sysctls`",
        lambda s: bool(s.settings.sysctls),
        "not set: the namespace keeps the kernel's defaults",
    ),
    (
        "`logging`",
        lambda s: s.settings.logging is not None,
        "output goes to Squall's log file instead (`squall logs`)",
    ),
    (
        "`dns`/`dns_search`",
        lambda s: bool(s.settings.dns or s.settings.dns_search),
        "not written: resolv.conf is the host's, names of services come from the hosts file",
    ),
    (
        "`stop_signal`/`stop_grace_period`",
        lambda s: s.settings.stop_signal is not None or s.settings.stop_grace_period is not None,
        "stops send SIGTERM, then SIGKILL after the backend's stop timeout",
    ),
    (
        "`secrets`/`configs`",
        lambda s: bool(s.secrets or s.configs),
        "not mounted: the processes see the host's files at those paths",
    ),
    (
        "`post_start`/`pre_stop` hooks",
        lambda s: bool(s.settings.post_start or s.settings.pre_stop),
        "not run",
    ),
)


def container_notes(spec: ClusterSpec) -> list[str]:
    """One line per container setting some service uses and netns cannot honour."""
    notes = []
    for what, uses, instead in _CHECKS:
        names = [s.name for s in spec.services if uses(s)]
        if names:
            notes.append(f"{what} on netns ({', '.join(names)}): {instead}")
    return notes


__all__ = ["container_notes"]
