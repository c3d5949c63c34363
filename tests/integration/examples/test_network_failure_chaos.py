"""A seeded chaos run on the seed's blockade.yml: logged in full, healed on SIGINT, replayed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from squall import events
from squall.chaos import runner as chaos
from tests.integration.examples.conftest import ExampleFactory

pytestmark = [pytest.mark.integration, pytest.mark.docker]

CHAOS = ("--seed", "11", "--interval", "1s..2s", "--hold", "1s..2s", "--at-once", "1..2",
         "--events", "partition,slow,flaky,duplicate,kill,pause")  # fmt: skip
HEALS = {"partition": "join", "slow": "fast", "flaky": "fast", "duplicate": "fast",
         "kill": "start", "pause": "unpause"}  # fmt: skip


@pytest.fixture
def trusty(docker_client: docker.DockerClient) -> Iterator[None]:
    try:
        docker_client.images.get("ubuntu:trusty")
        yield
        return
    except docker.errors.ImageNotFound:
        docker_client.images.get("squall/debian:bookworm").tag("ubuntu", "trusty")
    yield
    docker_client.images.remove("ubuntu:trusty", noprune=True)


def _no_rules_anywhere(status: dict) -> None:  # type: ignore[type-arg]
    for s in status["services"]:
        assert s["state"] == "running", s
        assert not s["faults"]["shapes"] and not s["faults"]["cannot_reach"], s
        assert not s["faults"]["drift"], s
        net = f"--net={s['netns']}"
        rules = subprocess.run(["nsenter", net, "iptables-save"], capture_output=True, text=True)
        qdiscs = subprocess.run(
            ["nsenter", net, "tc", "qdisc", "show"], capture_output=True, text=True
        )
        assert "squall" not in rules.stdout.lower(), rules.stdout
        assert "5351:" not in qdiscs.stdout, qdiscs.stdout
    assert not status["partition"]["cuts"]


def test_seeded_chaos_is_logged_healed_on_sigint_and_replayed(
    squall_example: ExampleFactory, trusty: None, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("reading the kernel back needs root")
    squall = squall_example("network-failure/blockade.yml")
    squall("up")
    plan = json.loads(squall("chaos", "--duration", "30s", *CHAOS, "--dry-run", "--json").stdout)
    argv = [sys.executable, "-m", "squall", "-f", str(squall.file), "-p", squall.project,
            "chaos", "--duration", "30s", *CHAOS]  # fmt: skip
    proc = subprocess.Popen(
        argv, env={**os.environ, **squall.env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    time.sleep(12)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert "interrupted" in err

    # The log: complete, ordered, every fault healed, the plan's timeline in order.
    log = Path(squall.env["SQUALL_STATE_DIR"]) / squall.project / events.EVENTS_FILE
    recorded = chaos.run_events(events.read(log))
    assert recorded[0].what == "chaos start" and recorded[0].values["seed"] == 11
    assert recorded[-1].what == "chaos end" and recorded[-1].values["reason"] == "interrupted"
    times = [e.unix_time for e in recorded]
    assert times == sorted(times) and times[-1] - times[0] < 16
    assert all(e.ok for e in recorded), [e.describe() for e in recorded if not e.ok]
    started = [e for e in recorded if e.what in HEALS]
    planned = [f for r in plan["rounds"] for f in r["faults"]]
    assert len(started) >= 3
    assert [(e.what, list(e.targets)) for e in started if e.what != "partition"] == [
        (f["kind"], f["targets"]) for f in planned[: len(started)] if f["kind"] != "partition"
    ]
    open_faults: list[str] = []
    for e in recorded:
        if e.what in HEALS:
            open_faults.append(HEALS[e.what])
        elif e.what in HEALS.values():
            assert e.what in open_faults, f"{e.what} heals nothing"
            open_faults.remove(e.what)
    assert not open_faults, f"left in force: {open_faults}"

    # Nothing left in force: desired state, the kernel of every service, all running.
    _no_rules_anywhere(json.loads(squall("status", "--json").stdout))

    # Replay: the same changes, in the same order, at about the same offsets.
    copy = tmp_path / "run.jsonl"
    copy.write_text(log.read_text())
    squall("chaos", "replay", str(copy), timeout=120)
    everything = events.read(log)
    replayed = [e for e in everything if e.extra.get("replay_of") == recorded[0].run]
    assert chaos.changes(replayed) == chaos.changes(recorded)
    first, again = recorded[1].unix_time - times[0], replayed[1].unix_time - replayed[0].unix_time
    assert abs(first - again) < 1.0
    _no_rules_anywhere(json.loads(squall("status", "--json").stdout))
