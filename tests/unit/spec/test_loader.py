"""Finding the cluster file, and the package's public names."""

from __future__ import annotations

from pathlib import Path

import pytest

import squall.spec
from squall.errors import SpecError
from squall.spec import find_cluster_file
from squall.spec.loader import CLUSTER_FILE_NAMES, ProjectRequest, load_project


def test_find_cluster_file_order(tmp_path: Path) -> None:
    assert CLUSTER_FILE_NAMES == (
        "compose.yaml",
        "compose.yml",
        "docker-compose.yaml",
        "docker-compose.yml",
        "blockade.yaml",
        "blockade.yml",
    )
    for name in reversed(CLUSTER_FILE_NAMES):
        (tmp_path / name).write_text("services: {}\n")
        assert find_cluster_file(tmp_path) == tmp_path / name


def test_a_directory_is_not_a_cluster_file(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").mkdir()
    (tmp_path / "blockade.yml").write_text("containers: {}\n")
    assert find_cluster_file(tmp_path) == tmp_path / "blockade.yml"


def test_nothing_found_names_what_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        find_cluster_file(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path}: no cluster file found")
    assert all(name in message for name in CLUSTER_FILE_NAMES)
    assert caught.value.location.path == tmp_path


def test_exported_names() -> None:
    assert set(squall.spec.__all__) == {
        name for name in dir(squall.spec) if not name.startswith("_") and name[0].isupper()
    } | {"find_cluster_file", "load_cluster", "load_project", "start_order"}
    for name in squall.spec.__all__:
        assert getattr(squall.spec, name) is not None


def test_backend_netns_on_the_command_line_runs_a_file_without_images(tmp_path: Path) -> None:
    file = tmp_path / "compose.yaml"
    file.write_text("services:\n  web:\n    command: ['true']\n")
    spec = load_project(ProjectRequest(files=(file,), backend="netns", environ={}))
    assert [(s.name, s.image, s.build) for s in spec.services] == [("web", None, None)]
    for backend in (None, "docker"):
        with pytest.raises(SpecError, match="needs 'image' or 'build' \\(or `--backend netns`"):
            load_project(ProjectRequest(files=(file,), backend=backend, environ={}))
