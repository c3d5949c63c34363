"""Every test here runs on the real Docker Engine with the local images."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import mark_folder


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_folder(items, Path(__file__).parent, "docker")
