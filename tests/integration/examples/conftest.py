"""Run the real `squall` command on the examples, each under a project name of its own."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.cli_runner import SquallRunner

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


BACKENDS = [
    pytest.param("docker", marks=pytest.mark.docker),
    pytest.param("netns"),
]
"""For `@pytest.mark.parametrize("backend_name", BACKENDS, indirect=True)`: the same
test on both backends (netns ignores images and runs the commands on this host)."""

ExampleFactory = Callable[..., SquallRunner]
"""`squall_example(relative_path, **env)`: a runner of `squall` on that example."""


@pytest.fixture
def backend_name(request: pytest.FixtureRequest) -> str:
    """The backend the examples run on: docker, unless a test parametrises it."""
    name = str(getattr(request, "param", "docker"))
    if name == "docker":
        request.getfixturevalue("local_images")
    elif os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("the netns backend needs root")
        pytest.skip("the netns backend needs root")
    return name


@pytest.fixture
def squall_example(backend_name: str, tmp_path: Path) -> Iterator[ExampleFactory]:
    """Factory: `squall_example("echo/compose.yaml", BASE_IMAGE=...)`; downs it afterwards
    with the images it built."""
    runners: list[SquallRunner] = []

    def make(relative: str, **env: str) -> SquallRunner:
        name = relative.split("/")[0].replace("-", "")
        runner = SquallRunner(
            EXAMPLES / relative,
            f"sqt{name}{secrets.token_hex(3)}",
            {
                "SQUALL_STATE_DIR": str(tmp_path / "state"),
                "SQUALL_BACKEND": backend_name,
                **env,
            },
        )
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner("down", "--rmi", "local", check=False)
