"""The CLI in the guest: `doctor` reports the netem path, `down` leaves nothing.

These run `python -m squall` as a user types it (slow under TCG, so only a few calls).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.integration.cli_runner import SquallRunner
from tests.vm.guest.conftest import compose


def test_doctor_reports_the_netem_path(netem_kernel: None) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "squall", "doctor", "--json"],
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    assert result.stdout, result.stderr
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["netem"]["ok"], checks["netem"]
    assert checks["ifb"]["ok"] and checks["htb"]["ok"]
    assert report["paths"]["delay/jitter/reorder"] == "netem", report["paths"]
    assert "shaper" not in json.dumps(report["paths"]), report["paths"]


def links() -> set[str]:
    out = subprocess.run(
        ("ip", "-o", "link", "show"), capture_output=True, text=True, check=True
    ).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def test_down_after_netem_and_ifb_faults_leaves_no_namespace_link_or_qdisc(
    netem_kernel: None, tmp_path: Path
) -> None:
    before = links()
    file = tmp_path / "compose.yaml"
    file.write_text(compose())
    squall = SquallRunner(file, "vmdown", {"SQUALL_STATE_DIR": str(tmp_path / "state")})
    squall("--backend", "netns", "up")
    try:
        # one call (each costs ~20 s under TCG): egress netem and ingress through ifb
        squall("--backend", "netns", "shape", "b", "--delay", "20ms", "--loss", "5%",
               "--direction", "both")  # fmt: skip
        held = subprocess.run(
            ("ip", "netns", "exec", "squall-vmdown.b", "tc", "qdisc", "show"),
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert "netem" in held and "ingress" in held, held
    finally:
        squall("--backend", "netns", "down")
    assert not list(Path("/run/netns").glob("squall-vmdown.*"))
    assert links() == before, links() ^ before
