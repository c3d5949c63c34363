"""The seed's blockade.yml, read as-is: clients ping the server through link variables."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import docker
import pytest

from tests.integration.examples.conftest import BACKENDS, ExampleFactory

pytestmark = [pytest.mark.integration]


@pytest.fixture
def ubuntu_trusty(backend_name: str, request: pytest.FixtureRequest) -> Iterator[None]:
    """The file names ubuntu:trusty; lend it the local Debian image if it is absent.

    (The netns backend runs the file's commands on this host and needs no image.)
    """
    if backend_name != "docker":
        yield  # commands run on this host: scripts/install.sh installs netcat-openbsd's `nc`
        return
    docker_client: docker.DockerClient = request.getfixturevalue("docker_client")
    try:
        docker_client.images.get("ubuntu:trusty")
        yield
        return
    except docker.errors.ImageNotFound:
        docker_client.images.get("squall/debian:bookworm").tag("ubuntu", "trusty")
    yield
    docker_client.images.remove("ubuntu:trusty", noprune=True)


@pytest.mark.parametrize("backend_name", BACKENDS, indirect=True)
def test_blockade_file_runs_and_clients_reach_server(
    squall_example: ExampleFactory, ubuntu_trusty: None
) -> None:
    squall = squall_example("network-failure/blockade.yml")
    squall("up")

    states = {s["service"]: s for s in json.loads(squall("status", "--json").stdout)["services"]}
    assert sorted(states) == ["client1", "client2", "server"]
    assert all(s["state"] == "running" for s in states.values())
    server_ip = states["server"]["addresses"][0]["ip"]

    for client in ("client1", "client2"):
        deadline = time.monotonic() + 30
        while f"from {server_ip}" not in (logs := squall("logs", client).stdout):
            assert time.monotonic() < deadline, f"{client} never pinged {server_ip}: {logs!r}"
            time.sleep(1)
