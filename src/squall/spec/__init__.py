"""Cluster files (compose, compose v1, blockade.yml) -> one immutable `ClusterSpec`."""

from squall.spec.graph import start_order
from squall.spec.loader import find_cluster_file, load_cluster
from squall.spec.model import (
    DEFAULT_NETWORK,
    BuildSpec,
    ClusterSpec,
    Dependency,
    FaultPresets,
    Healthcheck,
    Link,
    NetworkSpec,
    PortMapping,
    ServiceNetwork,
    ServiceSpec,
    SquallOptions,
    VolumeMount,
    VolumeSpec,
)

__all__ = [
    "DEFAULT_NETWORK",
    "BuildSpec",
    "ClusterSpec",
    "Dependency",
    "FaultPresets",
    "Healthcheck",
    "Link",
    "NetworkSpec",
    "PortMapping",
    "ServiceNetwork",
    "ServiceSpec",
    "SquallOptions",
    "VolumeMount",
    "VolumeSpec",
    "find_cluster_file",
    "load_cluster",
    "start_order",
]
