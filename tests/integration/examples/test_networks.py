"""Multi-homed services: who reaches whom, by name and by IP, on user-defined networks."""

from __future__ import annotations

import json
import os
import subprocess

import docker
import pytest

from squall.runtime.netns import naming
from tests.integration.cli_runner import SquallRunner
from tests.integration.examples.conftest import BACKENDS, ExampleFactory

pytestmark = [pytest.mark.integration]


def _addresses(squall: SquallRunner) -> dict[str, dict[str, str]]:
    states = json.loads(squall("status", "--json").stdout)["services"]
    return {s["service"]: {a["network"]: a["ip"] for a in s["addresses"]} for s in states}


def _reaches(squall: SquallRunner, source: str, target: str) -> bool:
    ping = squall("exec", "-T", source, "--", "ping", "-c1", "-W1", target, check=False)
    return ping.returncode == 0


@pytest.mark.parametrize("backend_name", BACKENDS, indirect=True)
def test_reachability_follows_shared_networks(
    squall_example: ExampleFactory, backend_name: str, request: pytest.FixtureRequest
) -> None:
    squall = squall_example("networks/compose.yaml", BUSYBOX_IMAGE="squall/busybox")
    squall("up")
    ips = _addresses(squall)
    assert sorted(ips["c1"]) == ["back", "front"]
    assert list(ips["c2"]) == ["front"] and list(ips["c3"]) == ["back"]

    assert _reaches(squall, "c1", "c2") and _reaches(squall, "c1", "c3")
    assert _reaches(squall, "c1", "web"), "alias of c2 on front"
    assert _reaches(squall, "c1", ips["c3"]["back"]) and _reaches(squall, "c2", ips["c1"]["front"])
    assert not _reaches(squall, "c2", "c3"), "c2 and c3 share no network, the name must not resolve"
    assert not _reaches(squall, "c2", ips["c3"]["back"]), "no route between front and back"
    assert not _reaches(squall, "c3", "web")

    squall("net", "create", "side", "--subnet", "10.231.77.0/24")
    squall("net", "connect", "side", "c3", "--alias", "db")
    squall("net", "connect", "side", "c2")
    assert _reaches(squall, "c2", "db"), "c2 reaches c3 by its alias on the new network"
    nets = {n["name"]: n for n in json.loads(squall("net", "ls", "--json").stdout)}
    assert nets["side"]["subnets"] == ["10.231.77.0/24"]
    assert sorted(nets["side"]["services"]) == ["c2", "c3"]

    squall("net", "disconnect", "side", "c2")
    assert not _reaches(squall, "c2", "db")

    squall("down")
    if backend_name == "netns":
        prefix = f"squall-{squall.project}."
        assert not [n for n in os.listdir("/run/netns") if n.startswith(prefix)]
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        assert naming.link_prefix(squall.project) not in links
        return
    docker_client: docker.DockerClient = request.getfixturevalue("docker_client")
    label = f"io.squall.project={squall.project}"
    assert docker_client.containers.list(all=True, filters={"label": label}) == []
    assert docker_client.networks.list(filters={"label": label}) == []
