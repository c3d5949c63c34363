"""Shared fixtures for tests on the real engine and kernel.

Outside CI a missing engine or missing local images skip these tests with the reason;
under CI (CI=true) they fail, so a broken install never passes as green.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

LOCAL_IMAGES = ("squall/busybox:latest", "squall/debian:bookworm")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[object]:
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # any failure to reach the engine means: no engine here
        _unavailable(f"no Docker Engine answers: {exc}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def local_images(docker_client: object) -> tuple[str, ...]:
    import docker

    assert isinstance(docker_client, docker.DockerClient)
    for tag in LOCAL_IMAGES:
        try:
            docker_client.images.get(tag)
        except docker.errors.ImageNotFound:
            _unavailable(f"image {tag} is missing; build it with `squall images build`")
    return LOCAL_IMAGES


def mark_folder(items: list[pytest.Item], folder: Path, *marks: str) -> None:
    """Give every test under `folder` these marks: a folder's tests share what they need."""
    for item in items:
        if item.path.is_relative_to(folder):
            for mark in marks:
                item.add_marker(getattr(pytest.mark, mark))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_folder(items, Path(__file__).parent, "integration")
