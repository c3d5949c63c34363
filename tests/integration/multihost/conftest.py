"""Three real Docker Engines on this machine, started once for every multi-host test.

Each is a `dockerd` in its own network namespace on one bridge (see `engines.py`), with
the local busybox image copied in. Starting them takes ~20 s on two cores, so the
fixture is session scoped; everything it made is removed at the end of the session,
and each test removes what it made on the engines (`down`), which the tests check.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import _unavailable, mark_folder
from tests.integration.multihost.engines import Engines

IMAGE = "squall/busybox:latest"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_folder(items, Path(__file__).parent, "docker")


@pytest.fixture(scope="session")
def engines(local_images: tuple[str, ...]) -> Iterator[Engines]:
    if os.geteuid() != 0:
        _unavailable("several engines need root (network namespaces, dockerd)")
    for tool in ("dockerd", "nsenter", "ip", "iptables"):
        if shutil.which(tool) is None:
            _unavailable(f"{tool} is not installed")
    made = Engines(3)
    try:
        made.start((IMAGE,))
    except BaseException:
        made.stop()
        raise
    yield made
    made.stop()
