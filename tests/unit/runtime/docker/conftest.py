"""The Docker backend against a fake engine on a unix socket (no real engine needed)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from squall.runtime.base import Waits
from squall.runtime.docker.backend import DockerBackend
from squall.runtime.docker.engine import DockerEngine
from tests.unit.runtime.docker.fake_engine import FakeEngine, serving


@dataclass
class Fake:
    engine: FakeEngine
    backend: DockerBackend
    url: str


@pytest.fixture
def fake() -> Iterator[Fake]:
    # A short directory: a unix socket's path may not exceed 107 bytes.
    directory = Path(tempfile.mkdtemp(prefix="sqfake", dir="/tmp"))
    try:
        with serving(directory) as (engine, url):
            backend = DockerBackend(DockerEngine(url, timeout=10), Waits(health=5))
            yield Fake(engine, backend, url)
            backend.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
