"""The VM lane, driven from the host: boot a guest whose kernel has `sch_netem` and
run the tests of `tests/vm/guest/` there (netns backend, netem path, measured by
traffic), once, in one boot; fail with each failed guest test and its output.

The guest root is built once per recipe and cached (`tests/vm/machine.py`); skipped,
with the reason, only where qemu cannot run at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.vm import machine

GUEST_PYTEST = (
    "python3 -m pytest -p no:cacheprovider -c pyproject.toml -o timeout=300 -q -rA --durations=0"
    " --junitxml=/lane/out/junit.xml tests/vm/guest\n"
)


@dataclass(frozen=True)
class GuestResult:
    name: str
    outcome: str  # "passed", "failed", "error", "skipped"
    detail: str


def read_junit(path: Path) -> list[GuestResult]:
    results = []
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        outcome, detail = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = "failed" if child.tag == "failure" else child.tag
                detail = f"{child.get('message', '')}\n{child.text or ''}"
        results.append(GuestResult(name, outcome, detail))
    return results


def qemu_runs() -> str | None:
    """Why qemu cannot run here, or None when it can."""
    if shutil.which(machine.QEMU) is None:
        return f"{machine.QEMU} is not installed (scripts/install.sh installs qemu-system-x86)"
    probe = subprocess.run(
        (machine.QEMU, "--version"), capture_output=True, text=True, timeout=30, check=False
    )
    return None if probe.returncode == 0 else f"{machine.QEMU} does not run: {probe.stderr}"


@pytest.mark.vm
@pytest.mark.timeout(1800)
def test_netem_faults_measured_inside_a_guest_with_netem(tmp_path: Path) -> None:
    if reason := qemu_runs():
        pytest.skip(f"VM lane skipped: {reason}")
    assert os.geteuid() == 0, "the VM lane builds its guest root as root (mmdebstrap)"
    assert not machine.missing_tools(), f"missing {machine.missing_tools()}"
    outcome = machine.boot(machine.root_image(), GUEST_PYTEST, tmp_path / "vm", timeout=1200)
    junit = outcome.out / "junit.xml"
    assert junit.exists(), f"the guest wrote no results (exit {outcome.rc}):\n{outcome.log}"
    results = read_junit(junit)
    bad = [r for r in results if r.outcome != "passed"]
    report = "\n\n".join(f"{r.outcome.upper()} {r.name}\n{r.detail}" for r in bad)
    durations = outcome.log.partition("slowest durations")[2]
    print(f"vm lane: guest pytest durations{durations}")
    if bad:
        pytest.fail(f"{len(bad)} of {len(results)} guest tests did not pass:\n{report}")
    assert outcome.rc == 0, f"guest pytest exited {outcome.rc}:\n{outcome.log}"
    assert results, f"the guest ran no test:\n{outcome.log}"
    print(f"vm lane: {len(results)} guest tests passed in {outcome.seconds:.0f} s")
