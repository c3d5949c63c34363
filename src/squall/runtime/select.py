"""Pick a backend by name; imports are lazy so `--help` never touches an engine."""

from __future__ import annotations

from squall.errors import UsageError
from squall.runtime.base import Backend

BACKEND_NAMES = ("auto", "docker")


def make_backend(name: str) -> Backend:
    if name in ("auto", "docker"):
        from squall.runtime.docker import DockerBackend

        return DockerBackend()
    raise UsageError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
