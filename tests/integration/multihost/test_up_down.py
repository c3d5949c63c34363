"""`up` and `down` across three engines: a Swarm, overlay networks, names and TCP across
hosts; nothing left on any engine; an unreachable host; kill -9 mid-`up`."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from tests.integration.cli_runner import SquallRunner
from tests.integration.multihost.cluster import leftovers, swarm_states, write_file
from tests.integration.multihost.engines import Engines


def test_up_spans_the_hosts_and_down_leaves_nothing(tmp_path: Path, engines: Engines) -> None:
    squall = SquallRunner(write_file(tmp_path, engines), "mhup")
    try:
        squall("up")
        rows = json.loads(squall("status", "--json").stdout)["services"]
        assert {r["service"]: r["host"] for r in rows} == {"a": "h1", "b": "h2", "c": "h3"}
        assert all(r["state"] == "running" for r in rows)
        assert swarm_states(engines) == ["active"] * 3
        # Names resolve across hosts, and TCP reaches the very container named.
        for source, target in (("a", "b"), ("b", "c"), ("c", "a")):
            got = squall("exec", source, "--", "wget", "-qO-", f"http://{target}:8080/hostname")
            container = next(r for r in rows if r["service"] == target)
            assert got.stdout.strip() == container["id"][:12]
        networks = engines.engines[0].client().networks(names=["mhup_default"])
        assert networks[0]["Driver"] == "overlay" and networks[0]["Attachable"]
    finally:
        squall("down", check=False)
    assert leftovers(engines, "mhup") == {}
    assert swarm_states(engines) == ["inactive"] * 3  # Squall made it, so down left it


def test_replicas_spread_and_an_existing_swarm_is_kept(tmp_path: Path, engines: Engines) -> None:
    h1, h2, h3 = engines.engines
    first = h1.client()
    first.init_swarm(advertise_addr=h1.ip, listen_addr="0.0.0.0:2377")
    token = first.inspect_swarm()["JoinTokens"]["Worker"]
    for other in (h2, h3):
        other.client().join_swarm(
            [f"{h1.ip}:2377"], token, advertise_addr=other.ip, listen_addr="0.0.0.0:2377"
        )
    services = (
        "services:\n"
        "  web: {image: squall/busybox, command: [sleep, '300'], deploy: {replicas: 3}}\n"
    )
    squall = SquallRunner(write_file(tmp_path, engines, services=services), "mhrep")
    try:
        squall("up")
        rows = json.loads(squall("status", "--json").stdout)["services"]
        assert sorted((r["member"], r["host"]) for r in rows) == [
            ("web-1", "h1"),
            ("web-2", "h2"),
            ("web-3", "h3"),
        ]
        ping = squall("exec", "web-1", "--", "ping", "-c", "1", "-W", "3", "web")
        assert "1 packets received" in ping.stdout
    finally:
        squall("down", check=False)
        assert leftovers(engines, "mhrep") == {}
        assert swarm_states(engines) == ["active"] * 3  # not Squall's: kept
        for engine in (h3, h2, h1):
            engine.client().leave_swarm(force=True)


def test_an_unreachable_host_is_one_line_and_nothing_is_made(
    tmp_path: Path, engines: Engines
) -> None:
    missing = '    h4: {engine: "unix:///run/squall-multihost/nobody.sock"}\n'
    squall = SquallRunner(write_file(tmp_path, engines, extra_hosts=missing), "mhgone")
    result = squall("up", check=False)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "host 'h4'" in errors[0], result.stderr
    assert leftovers(engines, "mhgone") == {}
    assert swarm_states(engines) == ["inactive"] * 3


def test_kill_9_mid_up_then_down_leaves_nothing(tmp_path: Path, engines: Engines) -> None:
    squall = SquallRunner(write_file(tmp_path, engines), "mhkill")
    process = subprocess.Popen(
        squall.argv("up"),
        cwd=tmp_path,
        env=squall.environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not leftovers(engines, "mhkill") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert leftovers(engines, "mhkill"), "up made nothing within 60 s"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    squall("down")
    assert leftovers(engines, "mhkill") == {}
    assert swarm_states(engines) == ["inactive"] * 3
