"""What every command shares: global flags, the operations they lead to, flags derived
from the declarations of `squall.ops` (so a field is declared once, for every front end).

Every command imports this module, so it stays light: the operations (session, spec,
backends) and rich's consoles are imported when a command first asks for them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from squall.ops.where import Where

if TYPE_CHECKING:
    from rich.console import Console

    from squall.ops.fields import Field
    from squall.ops.operations import Operations
    from squall.ops.requests import Targets

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

F = TypeVar("F", bound=Callable[..., Any])
PIPED_WIDTH = 200


@dataclass
class Options:
    """Global flags, and the operations once a command asks for them."""

    files: tuple[Path, ...]
    project: str | None
    backend_name: str
    verbose: bool = False
    loading: Where = field(default_factory=Where)
    """--profile, --project-directory and --env-file (the rest of `where`)."""
    opened: Operations | None = None

    @cached_property
    def out(self) -> Console:
        """Tables piped to a file or a pager are not cut at 80 columns (COLUMNS still rules)."""
        from rich.console import Console

        console = Console()
        if not console.is_terminal and "COLUMNS" not in os.environ:
            return Console(width=PIPED_WIDTH)
        return console

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True)

    def say(self, text: str) -> None:
        """One plain line on stderr (progress and confirmations; stdout stays data)."""
        click.echo(text, err=True)

    @property
    def where(self) -> Where:
        return dataclasses.replace(
            self.loading, files=self.files, project=self.project, backend=self.backend_name
        )

    def ops(self, *, need_file: bool = False, removing: bool = False) -> Operations:
        """Operations on the chosen cluster; `need_file` marks `up`, which also says
        which backend `auto` picked (other commands say so only with -v, so an error
        stays one line). `removing` marks `down`: with -p, a cluster file that no longer
        loads does not keep it from removing what the project left."""
        if self.opened is None:
            from squall.ops.operations import Operations

            self.opened = Operations.open(
                self.where,
                need_file=need_file,
                removing=removing,
                warn=self.say,
                notice=self.say if need_file or self.verbose else None,
                log=self.kernel_log(),
            )
        return self.opened

    def kernel_log(self) -> Callable[[str], None] | None:
        """Where -v prints every kernel command."""
        return (lambda line: self.say(f"+ {line}")) if self.verbose else None

    def close(self) -> None:
        if self.opened is not None:
            self.opened.close()
            self.opened = None


pass_options = click.make_pass_decorator(Options)


def service_targets(command: F) -> F:
    """`SERVICE... | --all | --random`, as Blockade's commands take them."""
    command = click.option(
        "--random", "pick_random", is_flag=True, help="One of the services, chosen at random."
    )(command)
    command = click.option("--all", "all_services", is_flag=True, help="Every service.")(command)
    return click.argument("services", nargs=-1)(command)


def targets(services: tuple[str, ...], all_services: bool, pick_random: bool) -> Targets:
    from squall.ops.requests import Targets

    return Targets(services, all_services, pick_random)


def field_options(declared: Iterable[Field]) -> Callable[[F], F]:
    """Click options made from declared fields: `loss_correlation` -> `--loss-correlation`."""

    def decorate(command: F) -> F:
        for f in reversed(tuple(declared)):
            help_text = f.doc.help + (f" E.g. {f.doc.example}." if f.doc.example else "")
            kind = (
                click.Choice(f.choices) if f.choices else f.type if f.type in (int, float) else None
            )
            command = click.option(
                f.flag,
                f.name,
                type=kind,
                multiple=f.doc.many,
                default=f.doc.default,
                show_default=f.doc.default is not None,
                help=help_text,
            )(command)
        return command

    return decorate


def given(values: dict[str, Any], declared: Iterable[Field]) -> dict[str, Any]:
    """The declared fields a user gave on the command line (defaults and empty left out)."""
    return {
        f.name: values[f.name]
        for f in declared
        if values.get(f.name) is not None and values.get(f.name) != ()
    }
