"""What every command shares: global flags, the session they lead to, service targets."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from squall.errors import SpecError
from squall.runtime.base import Backend
from squall.runtime.select import choose_backend, make_backend
from squall.session import ClusterRef, Session, resolve_cluster
from squall.spec.loader import ProjectRequest

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

F = TypeVar("F", bound=Callable[..., Any])
PIPED_WIDTH = 200


def _stdout_console() -> Console:
    """Tables piped to a file or a pager are not cut at 80 columns (COLUMNS still rules)."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        return Console(width=PIPED_WIDTH)
    return console


@dataclass
class Options:
    """Global flags, and the backend once a command asks for one."""

    files: tuple[Path, ...]
    project: str | None
    backend_name: str
    verbose: bool = False
    loading: ProjectRequest = field(default_factory=ProjectRequest)
    """--profile, --project-directory and --env-file."""
    out: Console = field(default_factory=_stdout_console)
    err: Console = field(default_factory=lambda: Console(stderr=True))
    backend: Backend | None = None

    @property
    def file(self) -> Path | None:
        """The first `-f` file (what commands that take one file use)."""
        return self.files[0] if self.files else None

    def request(self) -> ProjectRequest:
        """What the global flags ask to load."""
        return replace(self.loading, files=self.files, project=self.project)

    def say(self, text: str) -> None:
        """One plain line on stderr (progress and confirmations; stdout stays data)."""
        self.err.print(text, markup=False, highlight=False, soft_wrap=True)

    def session(self, *, need_file: bool = False, removing: bool = False) -> Session:
        """The session for the chosen cluster; `need_file` marks `up`, which also says
        which backend `auto` picked (other commands say so only with -v, so an error
        stays one line). `removing` marks `down`: with -p, a cluster file that no longer
        loads does not keep it from removing what the project left."""
        try:
            cluster = resolve_cluster(
                self.files, self.project, Path.cwd(), need_file=need_file, request=self.loading
            )
        except SpecError as exc:
            if not removing or self.project is None:
                raise
            self.say(f"warning: {exc}; going on with -p {self.project} (found by label)")
            cluster = ClusterRef(self.project, None)
        if cluster.spec is not None:
            for warning in cluster.spec.warnings:
                self.say(f"warning: {warning}")
        backend = self.backend_for(cluster, say_choice=need_file)
        return Session.create(cluster, backend, log=self.kernel_log())

    def backend_for(self, cluster: ClusterRef, *, say_choice: bool = False) -> Backend:
        """The backend `cluster` runs on: --backend, else the file's `x-squall: backend`,
        else the one the project already lives on, else docker if an engine answers."""
        if self.backend is None:
            name = choose_backend(
                self.backend_name,
                preferred=cluster.spec.options.backend if cluster.spec is not None else None,
                project=cluster.project,
                notice=self.say if say_choice or self.verbose else None,
            )
            self.backend = make_backend(name, log=self.kernel_log())
        return self.backend

    def kernel_log(self) -> Callable[[str], None] | None:
        """Where -v prints every kernel command."""
        return (lambda line: self.say(f"+ {line}")) if self.verbose else None


pass_options = click.make_pass_decorator(Options)


def service_targets(command: F) -> F:
    """`SERVICE... | --all | --random`, as Blockade's commands take them."""
    command = click.option(
        "--random", "pick_random", is_flag=True, help="One of the services, chosen at random."
    )(command)
    command = click.option("--all", "all_services", is_flag=True, help="Every service.")(command)
    return click.argument("services", nargs=-1)(command)


def chosen_services(
    session: Session, services: tuple[str, ...], all_services: bool, pick_random: bool
) -> list[str]:
    return session.select_services(
        services, all_services=all_services, pick_random=pick_random, rng=random.Random()
    )
