"""`squall status` as data: drift becomes the one error that says what repairs it."""

from __future__ import annotations

from squall.cluster_status import ClusterStatus, ServiceFaults, ServiceStatus
from squall.faults.model import Partition
from squall.runtime.base import ServiceState
from squall.watcher import WatcherStatus


def status(drift: dict[str, tuple[str, ...]], watcher: WatcherStatus | None) -> ClusterStatus:
    services = tuple(
        ServiceStatus(ServiceState(name, f"p-{name}-1", "id", "running"), ServiceFaults(drift=d))
        for name, d in drift.items()
    )
    return ClusterStatus("p", services, Partition(), None, kernel_checked=True, watcher=watcher)


def test_drift_is_an_error_with_exit_code_3_naming_the_repair() -> None:
    found = status({"a": (), "b": ("missing rule: -A ...",)}, WatcherStatus(True, 42))
    error = found.drift_error()
    assert error is not None and error.exit_code == 3 and error.services == ("b",)
    assert str(error) == (
        "faults not in force on b: `squall reconcile` repairs them"
        " (the watcher, pid 42, repairs a restarted service within a second)"
    )
    alone = status({"b": ("x",)}, WatcherStatus(False)).drift_error()
    assert alone is not None and str(alone).endswith("`squall reconcile` repairs them")
    assert found.to_dict()["drifted"] == ["b"]
    assert status({"a": ()}, None).drift_error() is None
