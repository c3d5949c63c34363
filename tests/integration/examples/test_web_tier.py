"""examples/web-tier end to end on Docker, run as a user runs it from its folder: the
override file, `extends`, `.env`, a secret, a profile and three replicas; one replica
partitioned and measured by its own HTTP answers; `down` leaves nothing."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.integration.cli_runner import SquallRunner
from tests.integration.examples.conftest import EXAMPLES

pytestmark = [pytest.mark.integration, pytest.mark.docker]

GET = """
import sys, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().strip())
except Exception as exc:
    print("FAILED", getattr(exc, "code", exc))
"""
RESOLVE = "import socket; print(sorted({a[4][0] for a in socket.getaddrinfo('api', 8000)}))"


class FolderRunner(SquallRunner):
    """`squall -p PROJECT ...` in the example's folder: its files are found as Compose
    finds them (compose.yaml, then compose.override.yaml)."""

    def argv(self, *args: str) -> list[str]:
        return [*super().argv()[:3], "-p", self.project, *args]


@pytest.fixture
def squall(tmp_path: Path, local_images: tuple[str, ...]) -> Iterator[FolderRunner]:
    runner = FolderRunner(
        EXAMPLES / "web-tier" / "compose.yaml",
        f"sqtweb{secrets.token_hex(3)}",
        {
            "SQUALL_STATE_DIR": str(tmp_path / "state"),
            "SQUALL_BACKEND": "docker",
            "PYTHON_IMAGE": "squall/debian:bookworm",
        },
    )
    yield runner
    runner("down", check=False)


def _answer(squall: SquallRunner, member: str, url: str = "http://localhost:8000") -> str:
    return squall("exec", "-T", member, "--", "python3", "-c", GET, url).stdout.strip()


def _members(squall: SquallRunner) -> dict[str, str]:
    services = json.loads(squall("status", "--json").stdout)["services"]
    return {s["member"]: s["state"] for s in services}


def test_the_project_runs_and_one_replica_is_partitioned(
    squall: FolderRunner, docker_client: docker.DockerClient
) -> None:
    assert squall.argv("up")[3:] == ["-p", squall.project, "up"]  # no -f: files are found
    squall("up")
    # The override's 3 replicas; `debug` is behind a profile nobody enabled.
    assert _members(squall) == dict.fromkeys(("api-1", "api-2", "api-3", "db"), "running")
    for member in ("api-1", "api-2", "api-3"):
        # The override's GREETING, the extended base's DB_ADDR and volume, and the
        # token .env gave the secret (db answers PONG only to its own token).
        assert _answer(squall, member).endswith("hello from the override; db says PONG")

    squall("partition", "api-2")
    assert _answer(squall, "api-2") == "FAILED 503"
    assert _answer(squall, "api-1").endswith("db says PONG")
    assert _answer(squall, "api-3").endswith("db says PONG")

    # Naming a service enables its profile and brings what it needs (up already).
    squall("up", "debug")
    assert _members(squall)["debug"] == "running"
    info = json.loads(squall("status", "--json").stdout)["services"]
    replicas = sorted(s["addresses"][0]["ip"] for s in info if s["service"] == "api")
    resolved = squall("exec", "-T", "debug", "--", "python3", "-c", RESOLVE).stdout.strip()
    assert resolved == str(replicas)
    first = next(s["addresses"][0]["ip"] for s in info if s["member"] == "api-1")
    assert _answer(squall, "debug", f"http://{first}:8000").endswith("db says PONG")

    squall("join")
    assert _answer(squall, "api-2").endswith("db says PONG")

    squall("down")
    labels = {"label": f"io.squall.project={squall.project}"}
    assert docker_client.containers.list(all=True, filters=labels) == []
    assert docker_client.networks.list(filters=labels) == []
    assert docker_client.volumes.list(filters=labels) == []
