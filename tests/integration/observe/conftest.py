"""A three-service busybox cluster for probe, API, chaos and plugin tests; always downed."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

import squall
from tests.integration.conftest import mark_folder

COMPOSE = """\
x-idle: &idle
  image: squall/busybox
  command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
  init: true
services:
  a: *idle
  b: *idle
  c: *idle
"""


@pytest.fixture(scope="package")
def trio(
    local_images: tuple[str, ...], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[squall.Cluster]:
    if os.geteuid() != 0:
        pytest.skip("probes enter network namespaces: root only")
    root = tmp_path_factory.mktemp("trio")
    (root / "compose.yaml").write_text(COMPOSE)
    cluster = squall.Cluster(
        root / "compose.yaml", project=f"sqtp{secrets.token_hex(3)}", state_root=root / "state"
    )
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.down()
        cluster.close()


@pytest.fixture
def cluster(trio: squall.Cluster) -> Iterator[squall.Cluster]:
    yield trio
    trio.heal()


def compose_file(cluster: squall.Cluster) -> Path:
    spec = cluster.session.cluster.spec
    assert spec is not None
    return spec.source


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_folder(items, Path(__file__).parent, "docker")
