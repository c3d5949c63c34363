"""The pytest plugin, run by pytester on a real cluster: up once, healed per test, reported."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.observe.conftest import COMPOSE

pytest_plugins = ("pytester",)

SUITE = """
import pytest

def test_partition_is_in_force(squall):
    squall.partition(["a"], ["b", "c"])
    squall.shape("b", delay="40ms")
    assert squall.probe(count=3, timeout=0.3).pair("a", "b").cut

def test_previous_faults_were_healed(squall, squall_cluster):
    assert squall is squall_cluster
    faults = squall.session.desired_faults()
    assert not faults.partition and not faults.shapes
    squall.pause("c")

def test_paused_service_was_unpaused_then_fails_on_purpose(squall):
    assert {s.service: s.state for s in squall.services()}["c"] == "running"
    squall.shape("a", delay="25ms", to=["b"])
    assert False, "on purpose"

@pytest.mark.squall(file="other/compose.yaml", project="{other}")
def test_marker_picks_another_cluster(squall):
    assert squall.project == "{other}"
    assert [s.service for s in squall.services()] == ["solo"]
"""

OTHER = """\
services:
  solo:
    image: squall/busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    init: true
"""


def test_plugin_brings_up_heals_reports_and_takes_down(
    pytester: pytest.Pytester, local_images: tuple[str, ...], tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("probes enter network namespaces: root only")
    project, other = f"sqtg{secrets.token_hex(3)}", f"sqto{secrets.token_hex(3)}"
    pytester.makefile(".yaml", compose=COMPOSE)
    (pytester.path / "other").mkdir()
    (pytester.path / "other" / "compose.yaml").write_text(OTHER)
    pytester.makeini(f"[pytest]\nsquall_file = compose.yaml\nsquall_project = {project}\n")
    pytester.makepyfile(test_suite=SUITE.replace("{other}", other))
    state = tmp_path / "state"
    env = {"SQUALL_STATE_DIR": str(state)}
    for key, value in env.items():
        pytester._monkeypatch.setenv(key, value)
    try:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=240)
        kept = (state / f"{project}.events.jsonl").read_text()
    finally:
        for name in (project, other):
            subprocess.run(
                [sys.executable, "-m", "squall", "-p", name, "down"],
                env={**os.environ, **env},
                capture_output=True,
                timeout=120,
            )
    result.assert_outcomes(passed=3, failed=1)
    text = result.stdout.str()
    assert "squall events" in text
    section = text[text.index("squall events") :]
    assert "pytest[" in section and "shape a (delay 25ms (egress) to=b)" in section
    assert "partition" not in section.split("short test summary")[0]  # only that test's events

    log = [json.loads(line) for line in kept.splitlines()]
    whats = [(e["what"], e.get("run", "").rsplit("::", 1)[-1]) for e in log]
    assert whats[0][0] == "up" and whats[-1][0] == "down"
    assert ("join", "test_partition_is_in_force") in whats
    assert ("fast", "test_partition_is_in_force") in whats
    assert ("unpause", "test_previous_faults_were_healed") in whats
    assert all(e["who"] == "pytest" for e in log)
    ps = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert ps.stdout.strip() == ""
