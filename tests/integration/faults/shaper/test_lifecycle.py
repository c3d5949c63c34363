"""The shaper process: reconfiguration, vanishing namespaces, being killed, stopping."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from squall.faults.shaper import ShaperError, control
from squall.faults.shaper.status import DaemonReport
from squall.faults.shaper_config import QueueSpec, ShaperConfig
from tests.integration.faults.shaper.nets import NetPair, Shaper, one, sh


def _wait_for(predicate: object, timeout: float = 3.0) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_sighup_reconfigures_in_place(netpair: NetPair, shaper: Shaper) -> None:
    netpair.queue_egress(netpair.a, netpair.dev_a, 1)
    pid = shaper.ensure(one(netpair.a, QueueSpec(num=1, delay=0.100)))
    assert 100.0 <= netpair.ping(count=5, interval=0.05).mean < 102.0
    assert shaper.ensure(one(netpair.a, QueueSpec(num=1, delay=0.030))) == pid
    ping = netpair.ping(count=10, interval=0.05)
    assert 30.0 <= ping.mean < 32.0, ping.output
    status = shaper.status()
    assert status.running and status.pid == pid
    # counters reach the status file about once a second
    assert _wait_for(lambda: shaper.status().counters["received"] >= 15, timeout=2.5)


def test_sigkill_lets_traffic_through_unshaped(netpair: NetPair, shaper: Shaper) -> None:
    netpair.queue_egress(netpair.a, netpair.dev_a, 1)
    pid = shaper.ensure(one(netpair.a, QueueSpec(num=1, delay=0.100)))
    os.kill(pid, signal.SIGKILL)
    assert _wait_for(lambda: not shaper.status().running)
    ping = netpair.ping(count=5, interval=0.05)
    assert len(ping.rtts) == 5, ping.output
    assert max(ping.rtts) < 10.0, ping.output
    # and a new shaper takes over the same queue
    assert shaper.ensure(one(netpair.a, QueueSpec(num=1, delay=0.050))) != pid
    assert 50.0 <= netpair.ping(count=5, interval=0.05).mean < 52.0


def test_vanished_namespace_is_dropped(netpair: NetPair, shaper: Shaper) -> None:
    doomed = netpair.a[:-1] + "c"
    sh("ip", "netns", "add", doomed)
    netpair.extra.append(doomed)
    netpair.queue_egress(netpair.a, netpair.dev_a, 1)
    pid = shaper.ensure(
        one(netpair.a, QueueSpec(num=1, delay=0.040)),
        one(doomed, QueueSpec(num=1, delay=0.040), label="test/c"),
    )
    assert len(shaper.status().namespaces) == 2
    sh("ip", "netns", "del", doomed)
    assert _wait_for(lambda: len(shaper.status().namespaces) == 1)
    status = shaper.status()
    assert status.pid == pid and status.namespaces[0].label == "test/a"
    assert 40.0 <= netpair.ping(count=5, interval=0.05).mean < 42.0


def test_missing_namespace_is_reported_and_retried(netpair: NetPair, shaper: Shaper) -> None:
    late = netpair.a[:-1] + "g"
    netpair.queue_egress(netpair.a, netpair.dev_a, 1)
    config = (
        one(netpair.a, QueueSpec(num=1, delay=0.020)),
        one(late, QueueSpec(num=1), label="test/late"),
    )
    with pytest.raises(ShaperError) as caught:
        shaper.ensure(*config)
    assert [getattr(f, "label", None) for f in caught.value.failures] == ["test/late"]
    assert "test/late" in str(caught.value) and "not found" in str(caught.value)
    assert 20.0 <= netpair.ping(count=5, interval=0.05).mean < 22.0
    # the same config again, once the namespace exists: the reload retries it
    sh("ip", "netns", "add", late)
    netpair.extra.append(late)
    shaper.ensure(*config)
    assert {ns.label for ns in shaper.status().namespaces} == {"test/a", "test/late"}


def test_sigterm_flushes_held_packets_and_exits_zero(netpair: NetPair, tmp_path: Path) -> None:
    netpair.queue_egress(netpair.a, netpair.dev_a, 1, "-p", "udp")
    config = tmp_path / "shaper.json"
    ShaperConfig(namespaces=(one(netpair.a, QueueSpec(num=1, delay=5.0)),)).write(config)
    pidfile, status = tmp_path / "shaper.pid", tmp_path / "shaper.status.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "squall.faults.shaper",
            "--config",
            str(config),
            "--pidfile",
            str(pidfile),
            "--status",
            str(status),
        ],
        stderr=subprocess.PIPE,
    )
    try:
        assert _wait_for(
            lambda: (r := DaemonReport.read(status)) is not None and r.applied_hash is not None
        )
        assert pidfile.read_text().strip() == str(proc.pid)
        receiver = netpair.socket_in(netpair.b, socket.SOCK_DGRAM, (netpair.ip_b, 7010))
        receiver.settimeout(2.0)
        sender = netpair.socket_in(netpair.a, socket.SOCK_DGRAM)
        sender.sendto(b"held", (netpair.ip_b, 7010))
        time.sleep(0.1)  # held for 5 s
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert receiver.recv(64) == b"held"
        assert time.monotonic() - started < 1.0
        assert proc.wait(timeout=5) == 0, proc.stderr.read() if proc.stderr else ""
        assert not pidfile.exists()
        sender.close()
        receiver.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_stop_shaper_and_status(netpair: NetPair, shaper: Shaper) -> None:
    assert control.shaper_status(shaper.state_dir).running is False
    assert control.stop_shaper(shaper.state_dir) is False
    pid = shaper.ensure(one(netpair.a, QueueSpec(num=1)))
    status = shaper.status()
    assert status.running and status.pid == pid and status.applied_hash
    assert control.stop_shaper(shaper.state_dir) is True
    assert not (shaper.state_dir / control.PID_FILE).exists()
    assert not shaper.status().running
