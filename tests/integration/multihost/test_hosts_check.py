"""`squall hosts ls|check` against three real engines (and one that is not there)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import docker

from tests.integration.cli_runner import SquallRunner
from tests.integration.multihost.engines import Engines


def _file(tmp_path: Path, engines: Engines, extra: str = "") -> Path:
    hosts = "".join(f'    {e.name}: {{engine: "{e.url}"}}\n' for e in engines.engines)
    path = tmp_path / "compose.yaml"
    path.write_text(
        "x-squall:\n  hosts:\n" + hosts + extra + "services:\n  a: {image: squall/busybox}\n"
    )
    return path


def test_check_reports_each_engine(tmp_path: Path, engines: Engines) -> None:
    squall = SquallRunner(_file(tmp_path, engines), "mhcheck")
    rows = json.loads(squall("hosts", "check", "--json").stdout)
    host_version = docker.from_env().version()["Version"]
    assert [r["name"] for r in rows] == ["h1", "h2", "h3"]
    for row in rows:
        assert row["reachable"] is True
        assert row["version"] == host_version  # the same dockerd binary
        assert row["kernel"] == os.uname().release
        assert row["swarm"] == "inactive" and row["role"] is None
        assert row["agent"] == "absent"
        assert abs(row["clock_offset"]) < 5.0  # the same clock: only the request's time


def test_an_engine_that_does_not_answer_is_named(tmp_path: Path, engines: Engines) -> None:
    squall = SquallRunner(_file(tmp_path, engines), "mhcheck")
    missing = "h4=unix:///run/squall-multihost/nobody.sock"
    result = squall("-H", missing, "hosts", "check", check=False)
    assert result.returncode == 1
    line = next(row for row in result.stdout.splitlines() if row.startswith("h4"))
    assert "NO" in line
    listed = json.loads(squall("-H", missing, "hosts", "ls", "--json").stdout)
    assert [h["name"] for h in listed] == ["h1", "h2", "h3", "h4"]
