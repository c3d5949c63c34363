"""Run the real `squall` command on the examples, each under a project name of its own."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@dataclass
class SquallRunner:
    """`squall -f FILE -p PROJECT ...` as a user would type it, in a subprocess."""

    file: Path
    project: str
    env: dict[str, str] = field(default_factory=dict)

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "squall", "-f", str(self.file), "-p", self.project, *args]
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env},
            cwd=self.file.parent,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result


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
