"""Proof that an engine runs on this kernel, and the clock offset `hosts check` shows."""

from __future__ import annotations

from pathlib import Path

from squall.linux.procs import in_container as runs_here
from squall.runtime.swarm.report import _offset

ID = "9dfb8be8d616420f321b355f252af6d0d68ff557922996a9e6da128a3c47ff0c"


def _proc(root: Path, pid: int, cgroup: str) -> Path:
    (root / str(pid)).mkdir(parents=True)
    (root / str(pid) / "cgroup").write_text(cgroup)
    return root


def test_a_pid_whose_cgroup_names_the_container_runs_here(tmp_path: Path) -> None:
    proc = _proc(tmp_path, 42, f"9:name=systemd:/docker/{ID}\n0::/\n")
    assert runs_here(ID, 42, proc)


def test_a_pid_of_another_process_or_none_proves_nothing(tmp_path: Path) -> None:
    proc = _proc(tmp_path, 42, "0::/user.slice/session-1.scope\n")
    assert not runs_here(ID, 42, proc)
    assert not runs_here(ID, 43, proc)
    assert not runs_here(ID, None, proc)
    assert not runs_here("", 42, proc)


def test_clock_offset_from_the_engines_rfc3339_time() -> None:
    # 2026-12-03T15:00:00Z is 1796310000 in Unix time.
    middle = 1796310000.0
    assert _offset("2026-12-03T15:00:01.500000000Z", middle - 0.1, middle + 0.1) == 1.5
    assert _offset("2026-12-03T16:00:00.25+01:00", middle, middle) == 0.25
    assert _offset("", middle, middle) is None and _offset("garbage", middle, middle) is None
