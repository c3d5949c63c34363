"""A small real cluster (busybox) served by a real `squall serve`, for the API tests.

Each test module gets its own cluster (unique name, own state directory) and server on
127.0.0.1 with a free port; both are always torn down.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.cli_runner import SquallRunner

COMPOSE = """\
x-idle: &idle
  image: squall/busybox
  command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
services:
  a:
    <<: *idle
    networks: [front, back]
  b:
    <<: *idle
    networks: [front]
  c:
    <<: *idle
    networks: [back]
networks:
  front: {}
  back: {}
"""


@dataclass
class Served:
    """A cluster and the `squall serve` process in front of it."""

    squall: SquallRunner
    project: str
    state_dir: Path
    base: str
    token: str
    dashboard_url: str
    process: subprocess.Popen[str]

    @property
    def api(self) -> str:
        return f"{self.base}/api/clusters/{self.project}"

    def client(self, token: str | None = "") -> httpx.Client:
        """A client sending the right token (default), another one, or none (None)."""
        sent = self.token if token == "" else token
        headers = {"Authorization": f"Bearer {sent}"} if sent is not None else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=60)

    def cli_status(self) -> dict[str, Any]:
        result = self.squall("status", "--json")
        found = json.loads(result.stdout)
        assert isinstance(found, dict)
        return found

    def events(self) -> list[str]:
        path = self.state_dir / "events.jsonl"
        return path.read_text().splitlines() if path.exists() else []


def start_server(
    squall: SquallRunner, *extra: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """`squall serve --port 0 ...`; returns the process and the URL it printed."""
    return start_serve(
        ["-f", str(squall.file), "-p", squall.project, "serve", "--port", "0", *extra],
        env={**squall.env, **(env or {})},
        cwd=squall.file.parent,
    )


def start_serve(
    args: list[str], *, env: dict[str, str], cwd: Path
) -> tuple[subprocess.Popen[str], str]:
    """`squall ARGS` (a `serve`), once it answers; the process and the URL it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "squall", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
        env={**os.environ, **env},
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("http://"):
        process.kill()
        _, err = process.communicate(timeout=10)
        raise AssertionError(f"squall serve printed {line!r}; stderr: {err}")
    base = line.split("/?", 1)[0]
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{base}/openapi.json", timeout=2).raise_for_status()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                process.kill()  # a server that never answered must not outlive the test
                process.communicate(timeout=10)
                raise
            time.sleep(0.1)
    return process, line


def stop_server(process: subprocess.Popen[str]) -> str:
    """SIGTERM the server we started (by its pid) and return its stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate(timeout=5)
    return err


@pytest.fixture(scope="module")
def served(
    local_images: tuple[str, ...], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("api")
    (directory / "compose.yaml").write_text(COMPOSE)
    state_root = directory / "state"
    project = f"sqapi{secrets.token_hex(3)}"
    squall = SquallRunner(
        directory / "compose.yaml", project, env={"SQUALL_STATE_DIR": str(state_root)}
    )
    squall("up")
    process = None
    try:
        process, url = start_server(squall)
        token = (state_root / "api-token").read_text().strip()
        yield Served(
            squall, project, state_root / project, url.split("/?", 1)[0], token, url, process
        )
    finally:
        if process is not None:
            stop_server(process)
        squall("down", check=False)
