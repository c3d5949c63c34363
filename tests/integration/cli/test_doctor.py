"""`squall doctor` on this host: it must see what the kernel really has."""

from __future__ import annotations

import json
import subprocess
import sys


def test_doctor_reports_the_path_each_fault_takes() -> None:
    probe = subprocess.run(
        ["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
        capture_output=True,
        text=True,
        check=False,
    )
    has_netem = probe.returncode == 0
    if has_netem:
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], check=True)

    result = subprocess.run(
        [sys.executable, "-m", "squall", "doctor", "--json"],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["root"]["ok"] and checks["docker"]["ok"]
    assert checks["netem"]["ok"] is has_netem
    expected = "netem" if has_netem else "userspace shaper (NFQUEUE)"
    assert report["paths"]["delay/jitter/reorder"] == expected
    assert report["paths"]["partition"] == "iptables DROP"
