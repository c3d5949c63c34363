"""The seed's technique 1 runs from its compose file and echoes bytes back."""

from __future__ import annotations

import json
import time

import docker
import pytest

from tests.integration.examples.conftest import BACKENDS, ExampleFactory

pytestmark = [pytest.mark.integration]


@pytest.mark.parametrize("backend_name", BACKENDS, indirect=True)
def test_echo_server_sends_bytes_back(squall_example: ExampleFactory) -> None:
    squall = squall_example("echo/compose.yaml", BASE_IMAGE="squall/debian:bookworm")
    squall("up", "--build")

    reply = squall(
        "exec",
        "-T",
        "client",
        "--",
        "sh",
        "-c",
        "(printf 'hello squall\\n'; sleep 0.5) | ncat --wait 2 server 2000",
    )
    assert reply.stdout == "hello squall\n"

    states = {s["service"]: s for s in json.loads(squall("status", "--json").stdout)["services"]}
    assert {name: s["state"] for name, s in states.items()} == {
        "client": "running",
        "server": "running",
    }
    assert [a["network"] for a in states["server"]["addresses"]] == ["default"]
    assert states["server"]["addresses"][0]["ip"]

    deadline = time.monotonic() + 20
    while "echo 2" not in (logs := squall("logs", "client").stdout):
        assert time.monotonic() < deadline, f"client never got two echoes back: {logs!r}"
        time.sleep(0.5)


@pytest.mark.docker
def test_down_rmi_local_removes_built_images_and_keeps_base_ones(
    squall_example: ExampleFactory, docker_client: docker.DockerClient
) -> None:
    squall = squall_example("echo/compose.yaml", BASE_IMAGE="squall/debian:bookworm")
    squall("up", "--build")
    label = {"label": f"io.squall.project={squall.project}"}
    built = docker_client.images.list(filters=label)
    assert {t for i in built for t in i.tags} >= {
        "squall-example-echo-server:latest",
        "squall-example-echo-client:latest",
    }
    down = squall("down", "--rmi", "local")
    assert "image squall-example-echo-server:latest" in down.stderr + down.stdout
    assert docker_client.images.list(filters=label) == []
    assert docker_client.images.list(name="squall-example-echo-server") == []
    assert docker_client.images.list(name="squall/debian") != []
