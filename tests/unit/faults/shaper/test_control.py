"""Status files, pid checks and stopping, without root or a kernel queue."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from squall.faults.shaper import config_hash, control
from squall.faults.shaper.status import DaemonReport, Failure, NamespaceReport, QueueReport
from squall.linux import procs


def test_report_round_trips_and_totals() -> None:
    report = DaemonReport(
        pid=42,
        applied_hash="abc",
        namespaces=(
            NamespaceReport(
                "/run/netns/x",
                "p/x",
                (
                    QueueReport(1, "egress", {"received": 3, "sent": 2}),
                    QueueReport(2, "ingress", {"received": 4}),
                ),
            ),
        ),
        failures=(Failure("/run/netns/y", "p/y", "gone", 1),),
        updated=1.5,
    )
    assert DaemonReport.from_json(report.to_json()) == report
    assert report.totals()["received"] == 7 and report.totals()["dropped"] == 0
    assert str(report.failures[0]) == "p/y queue 1 (/run/netns/y): gone"


def test_unreadable_report_is_none(tmp_path: Path) -> None:
    assert DaemonReport.read(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text("{")
    assert DaemonReport.read(tmp_path / "bad.json") is None


def test_config_hash_of_text_and_bytes_agree() -> None:
    assert config_hash("{}") == config_hash(b"{}") != config_hash("{ }")


def test_nothing_running_in_an_empty_state_dir(tmp_path: Path) -> None:
    status = control.shaper_status(tmp_path)
    assert status == control.ShaperStatus(running=False, pid=None)
    assert control.stop_shaper(tmp_path) is False


def test_a_stale_pidfile_naming_another_process_is_not_signalled(tmp_path: Path) -> None:
    pidfile = tmp_path / control.PID_FILE
    pidfile.write_text("1\n")  # init: alive, not ours
    assert control.running_shaper(pidfile) is None
    assert control.stop_shaper(tmp_path) is False
    assert not pidfile.exists()


def test_pid_check_wants_the_module_and_this_pidfile(tmp_path: Path) -> None:
    pidfile = tmp_path / control.PID_FILE
    # A stand-in whose command line looks like the shaper's: python -c ... -m <module>.
    fake = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(30)",
            "-m",
            control.MODULE,
            "--pidfile",
            str(pidfile),
        ]
    )
    try:
        pidfile.write_text(f"{fake.pid}\n")
        deadline = time.monotonic() + 5
        while not procs.command_line(fake.pid) and time.monotonic() < deadline:
            time.sleep(0.01)  # /proc shows the new argv only once exec has finished
        assert control.running_shaper(pidfile) == fake.pid
        other = tmp_path / "other.pid"
        other.write_text(f"{fake.pid}\n")
        assert control.running_shaper(other) is None
        assert control.shaper_status(tmp_path).running
        assert control.stop_shaper(tmp_path, timeout=2.0) is True
        assert procs.command_line(fake.pid) == []  # gone (and reaped by stop_shaper)
        assert not pidfile.exists()
        assert control.running_shaper(pidfile) is None
    finally:
        fake.kill()
        fake.wait()
