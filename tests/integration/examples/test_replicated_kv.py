"""The replicated-kv example's own suite, run as its user would: the plugin catches the loss."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.examples.conftest import EXAMPLES

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def test_example_suite_catches_writes_lost_on_failover(
    local_images: tuple[str, ...], tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("the suite probes from inside namespaces: root only")
    project = f"sqtkv{secrets.token_hex(3)}"
    env = {
        **os.environ,
        "PYTHON_IMAGE": "squall/debian:bookworm",
        "SQUALL_STATE_DIR": str(tmp_path / "state"),
    }
    folder = EXAMPLES / "replicated-kv"
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rxX", "-p", "no:cacheprovider",
             "-o", f"squall_project={project}"],
            cwd=folder, env=env, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
    finally:
        subprocess.run(
            [sys.executable, "-m", "squall", "-f", str(folder / "compose.yaml"), "-p", project,
             "down"],
            env=env, capture_output=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed, 1 xfailed" in result.stdout, result.stdout
    assert "acknowledges before replicating" in result.stdout
