"""A scratch project directory where a test writes its cluster file and loads it."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from squall.errors import SpecError
from squall.spec import ClusterSpec, load_cluster


class Project:
    """Files in one directory, named `proj`, so the project name is `proj`."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "proj"
        self.dir.mkdir()

    def write(self, name: str, text: str) -> Path:
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def load(
        self,
        text: str,
        *,
        name: str = "compose.yaml",
        environ: Mapping[str, str] | None = None,
        project: str | None = None,
    ) -> ClusterSpec:
        path = self.write(name, text)
        return load_cluster(path, project=project, environ={} if environ is None else environ)

    def error(
        self, text: str, *, name: str = "compose.yaml", environ: Mapping[str, str] | None = None
    ) -> SpecError:
        with pytest.raises(SpecError) as caught:
            self.load(text, name=name, environ=environ)
        return caught.value

    def at(self, line: int, name: str = "compose.yaml") -> str:
        """The `path:line:` prefix an error about `line` of the file starts with."""
        return f"{self.dir / name}:{line}:"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)
