"""One engine elsewhere, named by DOCKER_HOST=tcp://...: its containers' pids are not
this machine's to enter, so faults go through the agent on that engine."""

from __future__ import annotations

from pathlib import Path

from tests.integration.cli_runner import SquallRunner
from tests.integration.multihost.cluster import SERVE, agents, leftovers
from tests.integration.multihost.engines import Engines

PROJECT = "mhremote"


def _reaches(squall: SquallRunner, source: str, target: str) -> bool:
    result = squall("exec", source, "--", "ping", "-c", "1", "-W", "1", target, check=False)
    return result.returncode == 0


def test_a_remote_engine_gets_its_faults_through_the_agent(
    tmp_path: Path, engines: Engines
) -> None:
    h1 = engines.engines[0]
    path = tmp_path / "compose.yaml"
    path.write_text(
        "services:\n"
        f"  a: {{image: squall/busybox, command: {SERVE}}}\n"
        f"  b: {{image: squall/busybox, command: {SERVE}}}\n"
    )
    squall = SquallRunner(path, PROJECT, env={"DOCKER_HOST": h1.url, "SQUALL_BACKEND": "docker"})
    try:
        squall("up")
        assert agents(engines, PROJECT) == []  # started on first need only
        squall("partition", "a", "b")
        assert not _reaches(squall, "a", "b") and not _reaches(squall, "b", "a")
        assert agents(engines, PROJECT) == ["h1"]
        squall("join")
        assert _reaches(squall, "a", "b")
    finally:
        squall("down", check=False)
    assert leftovers(engines, PROJECT) == {}
    assert agents(engines, PROJECT) == []
