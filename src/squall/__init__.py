"""Squall: bring up a cluster from one compose file, then break its network on purpose.

`Cluster` is imported on first use: `squall.sqlite` runs inside containers that have
only the standard library, and importing this package must not pull in the rest.
"""

import typing

from squall.errors import (
    BackendError,
    ChaosError,
    ChaosRunning,
    ClusterBusy,
    EngineUnavailable,
    ImageMissing,
    ProbeError,
    ServiceNotFound,
    SpecError,
    SqliteServerError,
    SquallError,
    StateError,
    UsageError,
)

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "ChaosError",
    "ChaosRunning",
    "Cluster",
    "ClusterBusy",
    "EngineUnavailable",
    "ImageMissing",
    "ProbeError",
    "ServiceNotFound",
    "SpecError",
    "SqliteServerError",
    "SquallError",
    "StateError",
    "UsageError",
    "__version__",
]

if typing.TYPE_CHECKING:
    from squall.cluster import Cluster


def __getattr__(name: str) -> object:
    if name == "Cluster":
        from squall.cluster import Cluster

        return Cluster
    raise AttributeError(f"module 'squall' has no attribute {name!r}")
