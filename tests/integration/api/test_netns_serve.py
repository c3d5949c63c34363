"""`squall serve` on a cluster whose file asks for the netns backend, without --backend."""

from __future__ import annotations

import os
import secrets
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.integration.api.conftest import start_server, stop_server
from tests.integration.cli_runner import SquallRunner

IDLE = """["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]"""


def test_serve_uses_the_files_backend(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("the netns backend needs root")
        pytest.skip("the netns backend needs root")
    file = tmp_path / "compose.yaml"
    file.write_text(
        textwrap.dedent(
            f"""
            x-squall: {{backend: netns}}
            services:
              a: {{command: {IDLE}}}
              b: {{command: {IDLE}}}
            """
        )
    )
    state = tmp_path / "state"
    squall = SquallRunner(file, f"sqns{secrets.token_hex(3)}", {"SQUALL_STATE_DIR": str(state)})
    squall("up")
    process = None
    try:
        process, url = start_server(squall)
        base = url.split("/?", 1)[0]
        api = f"{base}/api/clusters/{squall.project}"
        services = httpx.get(f"{api}/services", timeout=30).json()
        assert {s["service"]: s["state"] for s in services} == {"a": "running", "b": "running"}
        token = (state / "api-token").read_text().strip()
        cut = httpx.put(
            f"{api}/partition",
            json={"groups": [["a"], ["b"]]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert cut.status_code == 200, cut.text
        ping = squall("exec", "-T", "a", "--", "ping", "-c", "1", "-W", "1", "b", check=False)
        assert ping.returncode != 0  # the cut reached the kernel of the netns cluster
        assert squall("status", "--json").stdout.count('"drift": []') == 2
    finally:
        if process is not None:
            stop_server(process)
        squall("down", check=False)
