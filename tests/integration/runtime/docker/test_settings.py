"""A compose file's resources, engine settings, secrets, configs and hooks on the real
engine: read back by inspecting the container and from inside it."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from squall.errors import BackendError
from squall.runtime.base import Action
from squall.runtime.docker.backend import DockerBackend
from squall.spec.loader import load_cluster

COMPOSE = """
services:
  tuned:
    image: squall/busybox:latest
    command: ["sleep", "3600"]
    mem_limit: 64m
    cpus: 0.5
    cpu_shares: 256
    pids_limit: 50
    shm_size: 8m
    read_only: true
    tmpfs: ["/scratch:size=1m"]
    ulimits:
      nofile: {soft: 512, hard: 1024}
    sysctls:
      net.core.somaxconn: 1024
    logging:
      driver: json-file
      options: {max-size: 1m}
    dns: [10.0.0.53]
    dns_search: [example.internal]
    stop_signal: SIGINT
    stop_grace_period: 2s
    deploy:
      resources:
        reservations: {memory: 16m}
  vault:
    image: squall/busybox:latest
    command: ["sleep", "3600"]
    volumes: ["./out:/out"]
    secrets:
      - db_password
      - source: api_token
        target: token
        mode: 0400
    configs:
      - source: app
        target: /etc/app.conf
    post_start:
      - command: ["sh", "-c", "echo started as $$(id -u) $$WHO > /out/post_start"]
        environment: {WHO: hook}
    pre_stop:
      - command: ["sh", "-c", "date +%s > /out/pre_stop"]
secrets:
  db_password:
    file: ./db_password.txt
  api_token:
    environment: API_TOKEN
configs:
  app:
    content: "port=8080"
"""


@pytest.fixture
def backend(local_images: tuple[str, ...]) -> Iterator[DockerBackend]:
    value = DockerBackend()
    yield value
    value.close()


@pytest.fixture
def project(tmp_path: Path, backend: DockerBackend) -> Iterator[tuple[str, Path]]:
    name = f"sqt{secrets.token_hex(4)}"
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (tmp_path / "db_password.txt").write_text("hunter2\n")
    (tmp_path / "out").mkdir()
    yield name, tmp_path
    backend.down(name, volumes=True)


def _run(client: docker.DockerClient, container: str, *argv: str) -> tuple[int, str]:
    code, output = client.containers.get(container).exec_run(list(argv))
    return int(code), output.decode()


def test_every_setting_reaches_the_container(
    backend: DockerBackend, project: tuple[str, Path], docker_client: docker.DockerClient
) -> None:
    name, folder = project
    spec = load_cluster(folder / "compose.yaml", project=name, environ={"API_TOKEN": "t0k3n"})
    backend.up(spec)
    info = docker_client.api.inspect_container(f"{name}-tuned-1")
    host = info["HostConfig"]
    assert (host["Memory"], host["NanoCpus"], host["CpuShares"]) == (64 << 20, 500_000_000, 256)
    assert (host["PidsLimit"], host["ShmSize"], host["MemoryReservation"]) == (
        50,
        8 << 20,
        16 << 20,
    )
    assert host["ReadonlyRootfs"] is True
    assert host["Tmpfs"] == {"/scratch": "size=1m"}
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 512, "Hard": 1024}]
    assert host["Sysctls"] == {"net.core.somaxconn": "1024"}
    # The daemon adds its own defaults (max-file) to the options given.
    assert host["LogConfig"]["Type"] == "json-file"
    assert host["LogConfig"]["Config"]["max-size"] == "1m"
    assert (host["Dns"], host["DnsSearch"]) == (["10.0.0.53"], ["example.internal"])
    assert (info["Config"]["StopSignal"], info["Config"]["StopTimeout"]) == ("SIGINT", 2)
    # From inside: the limits are the kernel's, the root filesystem refuses writes.
    tuned = f"{name}-tuned-1"
    assert _run(docker_client, tuned, "cat", "/proc/sys/net/core/somaxconn") == (0, "1024\n")
    # Read the service's own process: an exec'd shell's limits are the engine's business.
    limits = _run(docker_client, tuned, "cat", "/proc/1/limits")[1]
    assert re.search(r"^Max open files\s+512\s+1024\s", limits, re.MULTILINE), limits
    assert _run(docker_client, tuned, "touch", "/forbidden")[0] != 0
    assert _run(docker_client, tuned, "touch", "/scratch/allowed")[0] == 0

    vault = f"{name}-vault-1"
    assert _run(docker_client, vault, "cat", "/run/secrets/db_password") == (0, "hunter2\n")
    assert _run(docker_client, vault, "cat", "/run/secrets/token") == (0, "t0k3n")
    assert _run(docker_client, vault, "stat", "-c", "%a", "/run/secrets/token") == (0, "400\n")
    assert _run(docker_client, vault, "cat", "/etc/app.conf") == (0, "port=8080")
    assert (folder / "out" / "post_start").read_text() == "started as 0 hook\n"

    # PID 1 ignores SIGINT: the engine waits the 2 s of stop_grace_period, not 10.
    began = time.monotonic()
    backend.act(name, ["tuned"], Action.STOP)
    assert 1.5 < time.monotonic() - began < 6

    backend.act(name, ["vault"], Action.STOP)
    assert (folder / "out" / "pre_stop").read_text().strip().isdigit()
    assert docker_client.api.inspect_container(vault)["State"]["Status"] == "exited"


def test_a_failing_post_start_hook_fails_up(
    backend: DockerBackend, project: tuple[str, Path]
) -> None:
    name, folder = project
    (folder / "compose.yaml").write_text(
        "services:\n  broken:\n    image: squall/busybox:latest\n"
        "    command: [sleep, '3600']\n"
        "    post_start:\n      - command: [sh, -c, 'echo nope >&2; exit 4']\n"
    )
    spec = load_cluster(folder / "compose.yaml", project=name, environ={})
    with pytest.raises(BackendError, match=r"post_start hook .* exited with code 4: nope"):
        backend.up(spec)
