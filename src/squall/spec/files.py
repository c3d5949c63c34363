"""Which files make the project, where its directory is, and its variables.

Compose's rules: `-f` files in order; else `COMPOSE_FILE` (split on
`COMPOSE_PATH_SEPARATOR`, `:` by default here); else the first of compose.yaml,
compose.yml, docker-compose.yaml, docker-compose.yml in the working directory, with
the first override file beside it (compose.override.yaml...). The project directory
is `--project-directory`, else the first file's folder. Variables are the env files
(`--env-file`, else the project directory's `.env`) under the environment, which wins;
`COMPOSE_*` settings may come from either.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from squall.errors import Location, SpecError
from squall.spec.envfile import read_env_files

COMPOSE_FILE_NAMES = (
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
)
BLOCKADE_FILE_NAMES = ("blockade.yaml", "blockade.yml")
CLUSTER_FILE_NAMES = COMPOSE_FILE_NAMES + BLOCKADE_FILE_NAMES
OVERRIDE_FILE_NAMES = (
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
)


@dataclass(frozen=True)
class ProjectFiles:
    """The files of a project in merge order, its directory and its variables."""

    files: tuple[Path, ...]
    directory: Path
    variables: Mapping[str, str]


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


def find_override(found: Path) -> Path | None:
    """The override file Compose reads beside a compose file it found by itself."""
    if found.name not in COMPOSE_FILE_NAMES:
        return None
    return next(
        (found.parent / n for n in OVERRIDE_FILE_NAMES if (found.parent / n).is_file()), None
    )


def project_files(
    files: Sequence[Path],
    *,
    cwd: Path,
    environ: Mapping[str, str],
    project_directory: Path | None = None,
    env_files: Sequence[Path] = (),
) -> ProjectFiles:
    """Resolve the file set, the project directory and the variables.

    Files are not read here: the loader says which one cannot be read.

    Raises:
        SpecError: an env file named cannot be read, or no cluster file is found.
    """
    workdir = _absolute(project_directory, cwd) if project_directory is not None else cwd
    chosen_env = [_absolute(path, cwd) for path in env_files]
    variables = _variables(chosen_env, workdir, environ)
    if files:
        paths = [_absolute(path, cwd) for path in files]
    elif variables.get("COMPOSE_FILE"):
        separator = variables.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        paths = [
            _absolute(Path(p), workdir) for p in variables["COMPOSE_FILE"].split(separator) if p
        ]
    else:
        found = find_cluster_file(workdir)
        override = find_override(found)
        paths = [found] if override is None else [found, override]
    directory = workdir if project_directory is not None else paths[0].parent
    if directory != workdir and not chosen_env:
        variables = _variables([], directory, environ)
    return ProjectFiles(tuple(paths), directory, variables)


def _variables(
    env_files: Sequence[Path], directory: Path, environ: Mapping[str, str]
) -> dict[str, str]:
    """Env files under the environment: a variable set in both takes the environment's."""
    paths = list(env_files) or [directory / ".env"]
    return {**read_env_files(paths, environ, required=bool(env_files)), **environ}


def _absolute(path: Path, base: Path) -> Path:
    return Path(os.path.abspath(base / path))
