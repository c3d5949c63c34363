"""What netns says it does instead of the container settings it cannot honour."""

from __future__ import annotations

from pathlib import Path

from squall.errors import Location
from squall.runtime.netns.service import ignored
from squall.spec.model import (
    ClusterSpec,
    ContainerSettings,
    FileMount,
    Hook,
    Resources,
    ServiceSpec,
)

HERE = Location(Path("compose.yaml"), 1, 1)


def _spec(*services: ServiceSpec) -> ClusterSpec:
    return ClusterSpec(
        name="p", source=Path("/p/compose.yaml"), format="compose", services=services
    )


def test_each_setting_used_gets_one_line_naming_its_services_and_what_happens() -> None:
    notes = ignored(
        _spec(
            ServiceSpec("api", HERE, command=("true",), scale=3, resources=Resources(memory=1)),
            ServiceSpec(
                "db",
                HERE,
                command=("true",),
                resources=Resources(cpus=0.5),
                settings=ContainerSettings(
                    read_only=True, stop_grace_period=5, pre_stop=(Hook(("true",)),)
                ),
                secrets=(FileMount("pw", "/run/secrets/pw"),),
            ),
        )
    )
    assert notes == [
        "`deploy.replicas`/`scale` other than 1 on netns (api): one process runs for each "
        "(replica counts need the Docker backend)",
        "cgroup limits (`cpus`, `mem_limit`, `pids_limit`, `deploy.resources`...) on netns "
        "(api, db): not set: the processes share the host's CPU, memory and process table",
        "`read_only`, `tmpfs` and `shm_size` on netns (db): not applied: the processes use "
        "the host's filesystem as it is",
        "`stop_signal`/`stop_grace_period` on netns (db): stops send SIGTERM, then SIGKILL "
        "after the backend's stop timeout",
        "`secrets`/`configs` on netns (db): not mounted: the processes see the host's files "
        "at those paths",
        "`post_start`/`pre_stop` hooks on netns (db): not run",
    ]
    # No line says a service is left out: each names what still runs.
    assert not any("skipped" in n or "not started" in n for n in notes)


def test_a_plain_service_gets_no_line() -> None:
    assert ignored(_spec(ServiceSpec("api", HERE, command=("true",)))) == []
