"""Run the real `squall` command on the examples, each under a project name of its own."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cli_runner import SquallRunner

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def squall_example(local_images: tuple[str, ...], tmp_path: Path) -> Iterator[object]:
    """Factory: `squall_example("echo/compose.yaml", BASE_IMAGE=...)`; downs it afterwards."""
    runners: list[SquallRunner] = []

    def make(relative: str, **env: str) -> SquallRunner:
        name = relative.split("/")[0].replace("-", "")
        runner = SquallRunner(
            EXAMPLES / relative,
            f"sqt{name}{secrets.token_hex(3)}",
            {"SQUALL_STATE_DIR": str(tmp_path / "state"), **env},
        )
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner("down", check=False)
