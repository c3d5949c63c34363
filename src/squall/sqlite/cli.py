"""`squall sqlite serve` and `squall sqlite shell`: parse, call the package, print."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from squall.sqlite.config import ServeOptions, read_token
from squall.sqlite.server import serve
from squall.sqlite.shell import run_shell


@click.group("sqlite")
def sqlite_group() -> None:
    """SQLite over TCP: a server with a telnet-friendly protocol, and its shell."""


@sqlite_group.command("serve")
@click.option("--db", required=True, type=click.Path(path_type=Path), help="SQLite file.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=12345, show_default=True, type=int)
@click.option("--read-only", is_flag=True, help="Refuse every write.")
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Clients must send this file's token first (.auth TOKEN).",
)
@click.option("--max-connections", default=100, show_default=True, type=int)
@click.option("--statement-timeout", default="5s", show_default=True, help="e.g. 5s, 500ms.")
@click.option("--max-rows", type=int, help="Rows returned per statement at most.")
def serve_command(**options: Any) -> None:
    """Serve the SQLite database DB until SIGTERM or Ctrl-C."""
    serve(ServeOptions(**options).config())


@sqlite_group.command("shell")
@click.argument("address", metavar="HOST:PORT")
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="For a server started with --token-file: the file holding its token.",
)
def shell_command(address: str, token_file: Path | None) -> None:
    """An interactive shell (line editing, history) on the server at HOST:PORT."""
    run_shell(address, token=read_token(token_file) if token_file is not None else None)
