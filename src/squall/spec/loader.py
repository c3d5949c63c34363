"""Find and load a cluster: the entry points the rest of Squall calls.

`load_cluster(path)` reads one file, as before. `load_project(ProjectRequest(...))`
does all Compose does around it: several files merged in order (or the ones Compose
finds by itself, with the override file), a project directory, env files, profiles,
services named on the command line and scale overrides.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from squall.errors import Location, SpecError
from squall.spec.assemble import Assembler
from squall.spec.blockade import load_blockade
from squall.spec.compose import ComposeInput, load_compose
from squall.spec.files import CLUSTER_FILE_NAMES, find_cluster_file, project_files
from squall.spec.model import ClusterSpec
from squall.spec.profiles import Selection
from squall.spec.yaml import DEFAULT_LIMITS, Limits

__all__ = [
    "CLUSTER_FILE_NAMES",
    "ProjectRequest",
    "find_cluster_file",
    "load_cluster",
    "load_project",
]


@dataclass(frozen=True)
class ProjectRequest:
    """Everything the command line (or a caller) says about which cluster to load.

    Paths may be relative to `cwd`. Unset fields mean what Compose does without the flag.
    """

    files: tuple[Path, ...] = ()
    """`-f`, in merge order; empty: `COMPOSE_FILE`, else the files found in the project
    directory (compose.yaml and its override file, or blockade.yml)."""
    project_directory: Path | None = None
    env_files: tuple[Path, ...] = ()
    """`--env-file`, in order; empty: the project directory's `.env` if there is one."""
    project: str | None = None
    """`-p`; else `COMPOSE_PROJECT_NAME`, the file's `name:`, the directory's name."""
    profiles: tuple[str, ...] = ()
    """`--profile`; empty: `COMPOSE_PROFILES` (comma-separated)."""
    services: tuple[str, ...] = ()
    """Services named on the command line: enabled with their profiles."""
    scale: Mapping[str, int] = field(default_factory=dict)
    """`--scale SVC=N`."""
    backend: str | None = None
    """`--backend` (over the file's `x-squall: backend`): on netns a service needs no
    `image` or `build`."""
    cwd: Path | None = None
    environ: Mapping[str, str] | None = None
    """Default `os.environ`; it wins over env files, as in Compose."""
    limits: Limits = DEFAULT_LIMITS
    hosts: tuple[str, ...] = ()
    """`-H NAME=URL`: engines added to (or overriding) the file's `x-squall: hosts`."""


def load_project(request: ProjectRequest) -> ClusterSpec:
    """The cluster `request` names, merged, interpolated, selected and validated.

    Raises:
        SpecError: `path:line:col: field: message` for the first problem, in whichever
            file of the set it was written.
        UsageError: a service named or scaled does not exist, or a scale is out of range.
    """
    cwd = request.cwd if request.cwd is not None else Path.cwd()
    environ = os.environ if request.environ is None else request.environ
    found = project_files(
        request.files,
        cwd=cwd,
        environ=environ,
        project_directory=request.project_directory,
        env_files=request.env_files,
    )
    assembler = Assembler(limits=request.limits)
    first = assembler.document(found.files[0])
    if "containers" in first.mapping():
        if len(found.files) > 1:
            raise SpecError("a blockade.yml is read alone (not merged)", Location(found.files[1]))
        return load_blockade(first, project=request.project, environ=environ)
    profiles = request.profiles or _split(found.variables.get("COMPOSE_PROFILES", ""))
    assembled = assembler.file_set(found.files, found.variables)
    return load_compose(
        ComposeInput(
            root=assembled.root,
            v1=assembled.v1,
            files=found.files,
            directory=found.directory,
            variables=found.variables,
            project=request.project,
            selection=Selection(profiles, request.services, request.scale),
            backend=request.backend,
            hosts=request.hosts,
            warnings=tuple(assembler.warnings),
        )
    )


def load_cluster(
    path: Path, *, project: str | None = None, environ: Mapping[str, str] | None = None
) -> ClusterSpec:
    """Read one compose file (spec or v1) or blockade.yml into a `ClusterSpec`.

    The same as `load_project` with this one file: its `.env`, no profile enabled.

    Args:
        path: the cluster file; relative paths inside it start at its directory.
        project: the cluster name; by default `COMPOSE_PROJECT_NAME`, then the file's
            `name:`, then the directory's name.
        environ: variables for interpolation (default `os.environ`); they win over
            the project's `.env` file, as in Compose.

    Raises:
        SpecError: `path:line:col: field: message` for the first problem found.
    """
    source = Path(os.path.abspath(path))
    return load_project(
        ProjectRequest(files=(source,), project=project, environ=environ, cwd=source.parent)
    )


def _split(profiles: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in profiles.split(",") if name.strip())
