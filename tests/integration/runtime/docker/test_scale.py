"""Replicas on the real engine through the `squall` command: `<project>-api-1..3`, the
service name resolving to all of them, one replica partitioned measured by traffic,
and `down` leaving nothing."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.integration.cli_runner import SquallRunner

COMPOSE = """
services:
  api:
    image: squall/debian:bookworm
    command: ["sleep", "3600"]
    deploy:
      replicas: 3
  db:
    image: squall/debian:bookworm
    command: ["sleep", "3600"]
"""
RESOLVE = "import socket; print(sorted({a[4][0] for a in socket.getaddrinfo('api', 0)}))"


@pytest.fixture
def squall(tmp_path: Path, local_images: tuple[str, ...]) -> Iterator[SquallRunner]:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    runner = SquallRunner(
        tmp_path / "compose.yaml",
        f"sqt{secrets.token_hex(4)}",
        {"SQUALL_STATE_DIR": str(tmp_path / "state"), "SQUALL_BACKEND": "docker"},
    )
    yield runner
    runner("down", check=False)


def _reaches(squall: SquallRunner, source: str, target: str) -> bool:
    result = squall("exec", "-T", source, "--", "ping", "-c1", "-W1", target, check=False)
    return result.returncode == 0


def _nothing_left(client: docker.DockerClient, project: str) -> None:
    labels = {"label": f"io.squall.project={project}"}
    assert client.containers.list(all=True, filters=labels) == []
    assert client.networks.list(filters=labels) == []


def test_three_replicas_one_partitioned_by_traffic(
    squall: SquallRunner, docker_client: docker.DockerClient
) -> None:
    squall("up")
    services = json.loads(squall("status", "--json").stdout)["services"]
    assert [(s["member"], s["container"], s["state"]) for s in services] == [
        ("api-1", f"{squall.project}-api-1", "running"),
        ("api-2", f"{squall.project}-api-2", "running"),
        ("api-3", f"{squall.project}-api-3", "running"),
        ("db", f"{squall.project}-db-1", "running"),
    ]
    ips = {s["member"]: s["addresses"][0]["ip"] for s in services}
    # The engine's DNS answers the service name with every replica.
    resolved = squall("exec", "-T", "db", "--", "python3", "-c", RESOLVE).stdout
    assert resolved.strip() == str(sorted(ips[m] for m in ("api-1", "api-2", "api-3")))
    assert all(_reaches(squall, m, "db") for m in ("api-1", "api-2", "api-3"))

    partition = squall("partition", "api-2")
    assert "api-2 | api-1,api-3,db" in partition.stdout + partition.stderr
    assert not _reaches(squall, "api-2", "db")
    assert _reaches(squall, "api-1", "db") and _reaches(squall, "api-3", "db")
    assert not _reaches(squall, "db", ips["api-2"])
    assert _reaches(squall, "db", ips["api-1"])
    assert _reaches(squall, "api-1", ips["api-3"])  # same side: still together
    status = json.loads(squall("status", "--json").stdout)["services"]
    assert {s["member"]: s["faults"]["cannot_reach"] for s in status}["api-2"] == [
        "api-1",
        "api-3",
        "db",
    ]
    # Squall's own probe, pair by pair between members: only api-2's pairs lose all.
    pairs = json.loads(squall("probe", "-c", "3", "--json").stdout)["pairs"]
    lost = sorted((p["src"], p["dst"]) for p in pairs if p["received"] == 0)
    cut = [(a, b) for a in ips for b in ips if a != b and "api-2" in (a, b)]
    assert lost == sorted(cut)
    assert all(p["partitioned"] == ((p["src"], p["dst"]) in cut) for p in pairs)
    squall("join")
    assert _reaches(squall, "api-2", "db")

    squall("stop", "api-3")
    states = {
        s["member"]: s["state"] for s in json.loads(squall("status", "--json").stdout)["services"]
    }
    assert states == {"api-1": "running", "api-2": "running", "api-3": "exited", "db": "running"}

    squall("up", "--scale", "api=1")
    members = [s["member"] for s in json.loads(squall("status", "--json").stdout)["services"]]
    assert members == ["api", "db"]

    squall("down")
    _nothing_left(docker_client, squall.project)
