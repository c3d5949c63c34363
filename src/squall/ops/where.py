"""`Where`: a cluster as a user names it, in a module light enough for every command.

The CLI builds one before it knows which command runs; kept apart from `opening`, so
that `squall --help` and a command's own help import no session, spec or backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from squall.spec.loader import ProjectRequest


@dataclass(frozen=True)
class Where:
    """A cluster as a user names it: its files, its name, the backend to drive it with,
    and the rest of what Compose's global flags say (profiles, env files, ...)."""

    files: tuple[Path, ...] = ()
    """`-f`, in merge order; empty: `COMPOSE_FILE`, else the files found in the folder."""
    project: str | None = None
    backend: str = "auto"
    state_root: Path | None = None
    """Default: `$SQUALL_STATE_DIR` or `~/.local/state/squall`."""
    environ: Mapping[str, str] | None = None
    """Variables for the files' interpolation (default: this process's)."""
    cwd: Path | None = None
    """Where files are looked for when none is given (default: the current directory)."""
    search: bool = True
    """Look for files when none is given; a detached timer finds its cluster by name."""
    project_directory: Path | None = None
    env_files: tuple[Path, ...] = ()
    profiles: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    """Services named on the command line (they enable their profiles)."""
    scale: Mapping[str, int] = field(default_factory=dict)
    hosts: tuple[str, ...] = ()
    """`-H NAME=URL`: engines added to (or overriding) the file's `x-squall: hosts`."""

    @classmethod
    def of_file(cls, file: Path | None, **rest: Any) -> Where:
        """One file (or none: found in the folder), as the Python API takes it."""
        return cls(files=(file,) if file is not None else (), **rest)

    def loading(self) -> ProjectRequest:
        """What the spec layer is asked to load (the loader is imported only here)."""
        from squall.spec.loader import ProjectRequest

        return ProjectRequest(
            files=self.files,
            project_directory=self.project_directory,
            env_files=self.env_files,
            project=self.project,
            profiles=self.profiles,
            services=self.services,
            scale=self.scale,
            backend=None if self.backend == "auto" else self.backend,
            hosts=self.hosts,
            cwd=self.cwd,
            environ=self.environ,
        )
