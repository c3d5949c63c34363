"""Which supervisor reports mean that a service started again."""

from __future__ import annotations

from squall.runtime.base import ServiceChange
from squall.runtime.netns.config import ServiceReport, SupervisorReport
from squall.runtime.netns.watch import started


def report(**pids: int | None) -> SupervisorReport:
    services = {
        name: ServiceReport(
            name, "running" if pid else "restarting", pid, started_at=float(pid or 0)
        )
        for name, pid in pids.items()
    }
    return SupervisorReport(pid=1, serial=1, services=services)


def test_a_new_pid_is_a_start_and_the_first_report_is_the_baseline() -> None:
    first = report(a=10, b=20)
    assert started({}, first) == []
    assert started(first.services, report(a=10, b=None)) == []
    assert started(first.services, report(a=10, b=21)) == [ServiceChange("b", "start", 21.0)]


def test_since_catches_starts_missed_before_the_first_report() -> None:
    assert started({}, report(a=10, b=30), since=25.0) == [ServiceChange("b", "start", 30.0)]
