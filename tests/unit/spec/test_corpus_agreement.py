"""`squall config --format json` agrees with `docker-compose config` (1.29) on the
awesome-compose files, on every field both understand.

The corpus is read where it lies. docker-compose refuses a file whose build contexts
are absent (the corpus holds only compose files), so both tools run with one scratch
project directory in which those folders exist: relative paths then resolve there for
both alike.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from squall.cli.config import config_text
from squall.errors import SquallError
from squall.spec.loader import ProjectRequest, load_project

from . import compose_fields
from .test_corpus import CORPUS, FILES

DOCKER_COMPOSE = shutil.which("docker-compose")
ENVIRON = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/home/tester"}

KNOWN_DIFFERENCES = {
    ("plex", "plex", "volumes"): "`${UNSET}:/media/`: docker-compose 1.29 mounts a relative"
    " '.'; Squall warns and leaves the mount out (Compose v2 refuses the empty source)",
}
"""(folder, service, field): why Squall differs on purpose."""

pytestmark = pytest.mark.skipif(
    DOCKER_COMPOSE is None or not FILES, reason=f"needs docker-compose and {CORPUS}"
)


def _request(path: Path, directory: Path) -> ProjectRequest:
    return ProjectRequest(
        files=(path,), project_directory=directory, cwd=directory, environ=ENVIRON
    )


def _docker_compose(path: Path, directory: Path) -> subprocess.CompletedProcess[str]:
    assert DOCKER_COMPOSE is not None
    argv = [DOCKER_COMPOSE, "--project-directory", str(directory), "-f", str(path), "config"]
    return subprocess.run(
        argv, capture_output=True, text=True, env=ENVIRON, cwd=directory, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, tuple[object, str]]:
    """Per corpus file: (docker-compose's model or None, squall's JSON or its error)."""
    root = tmp_path_factory.mktemp("corpus")
    directories = {path: compose_fields.scratch_project(path, root, ENVIRON) for path in FILES}
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = dict(
            zip(FILES, pool.map(lambda p: _docker_compose(p, directories[p]), FILES), strict=True)
        )
    result: dict[Path, tuple[object, str]] = {}
    for path in FILES:
        run = runs[path]
        theirs = yaml.safe_load(run.stdout) if run.returncode == 0 else None
        try:
            ours = config_text(load_project(_request(path, directories[path])), None, "json")
        except SquallError as exc:
            ours = f"error: {exc}"
        result[path] = (theirs, ours)
    return result


def test_docker_compose_accepts_most_of_the_corpus(both: dict[Path, tuple[object, str]]) -> None:
    accepted = [path for path, (theirs, _) in both.items() if theirs is not None]
    assert len(accepted) >= 35, sorted(set(both) - set(accepted))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.parent.name)
def test_squall_agrees_with_docker_compose(
    both: dict[Path, tuple[object, str]], path: Path
) -> None:
    theirs, ours = both[path]
    if theirs is None:
        pytest.skip("docker-compose 1.29 does not accept this file")
    assert not ours.startswith("error:"), ours
    assert isinstance(theirs, dict)
    expected = compose_fields.project(theirs)
    got = compose_fields.project(json.loads(ours))
    assert got["services"].keys() == expected["services"].keys()
    for name, fields in expected["services"].items():
        mine = dict(got["services"][name])
        for field in list(fields.keys() | mine.keys()):
            if (path.parent.name, name, field) in KNOWN_DIFFERENCES:
                fields.pop(field, None)
                mine.pop(field, None)
        assert mine == fields, name
    for block in ("networks", "volumes", "secrets"):
        assert got[block] == expected[block], block
