"""Squall: bring up a cluster from one compose file, then break its network on purpose."""

from squall.errors import (
    BackendError,
    EngineUnavailable,
    ImageMissing,
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
    "EngineUnavailable",
    "ImageMissing",
    "ServiceNotFound",
    "SpecError",
    "SqliteServerError",
    "SquallError",
    "StateError",
    "UsageError",
    "__version__",
]
