"""Find and load a cluster file: the one entry point the rest of Squall calls."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from squall.errors import Location, SpecError
from squall.spec.blockade import load_blockade
from squall.spec.compose import is_v1, load_compose
from squall.spec.model import ClusterSpec
from squall.spec.yaml import load_document

CLUSTER_FILE_NAMES = (
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
    "blockade.yaml",
    "blockade.yml",
)


def find_cluster_file(directory: Path) -> Path:
    """The first cluster file of `directory`, in the order Compose looks, then Blockade's.

    Raises:
        SpecError: none of `CLUSTER_FILE_NAMES` is a file there.
    """
    for name in CLUSTER_FILE_NAMES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    raise SpecError(
        f"no cluster file found (looked for {', '.join(CLUSTER_FILE_NAMES)})",
        Location(directory),
    )


def load_cluster(
    path: Path, *, project: str | None = None, environ: Mapping[str, str] | None = None
) -> ClusterSpec:
    """Read a compose file (spec or v1) or a blockade.yml into a `ClusterSpec`.

    Args:
        path: the cluster file; relative paths inside it start at its directory.
        project: the cluster name; by default the file's `name:`, then
            `COMPOSE_PROJECT_NAME`, then the directory's name.
        environ: variables for interpolation (default `os.environ`); they win over
            the project's `.env` file, as in Compose.

    Raises:
        SpecError: `path:line:col: field: message` for the first problem found.
    """
    source = Path(os.path.abspath(path))
    variables = os.environ if environ is None else environ
    root = load_document(source)
    top = root.mapping()
    if "containers" in top:
        return load_blockade(root, project=project, environ=variables)
    v1 = "services" not in top and is_v1(root)
    return load_compose(root, v1=v1, project=project, environ=variables)
