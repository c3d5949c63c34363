"""The `squall` command: parse into a request, run it, print. Errors exit here, once.

Commands live in their own modules and are imported only when one runs or shows its
help (`LazyGroup`): `squall --help` lists them all from the table below.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from squall import __version__
from squall.cli.lazy import LazyCommand, LazyGroup
from squall.cli.options import CONTEXT, Options
from squall.errors import SquallError
from squall.ops.where import Where
from squall.runtime.select import BACKEND_NAMES


def _commands(module: str, *entries: tuple[str, str, str]) -> dict[str, LazyCommand]:
    return {name: LazyCommand(f"squall.{module}", attr, summary) for name, attr, summary in entries}


COMMANDS: dict[str, LazyCommand] = {
    **_commands(
        "cli.lifecycle",
        ("up", "up", "Create networks and volumes, then start services in dependency order."),
        (
            "down",
            "down",
            "Remove every container and network of the cluster"
            " (found by label, even after a crash).",
        ),
        (
            "status",
            "status",
            "Services: id, state, health, IP per network, and the faults in force.",
        ),
        ("ps", "status", "Services: id, state, health, IP per network, and the faults in force."),
        ("logs", "logs", "Print a service's output."),
        ("exec", "exec_command", "Run COMMAND inside SERVICE: squall exec api -- sh -c 'echo hi'."),
        ("start", "start", "Start stopped services: SERVICE..."),
        ("stop", "stop", "Stop services (SIGTERM, then SIGKILL after 10 s)."),
        ("restart", "restart", "Restart services."),
        ("kill", "kill", "Send a signal to services (default SIGKILL)."),
        ("pause", "pause", "Freeze every process of services (cgroup freezer)."),
        ("unpause", "unpause", "Thaw paused services."),
    ),
    **_commands(
        "cli.net",
        (
            "net",
            "net",
            "User-defined networks: multi-homed services, names resolve on shared networks.",
        ),
    ),
    **_commands(
        "cli.images",
        (
            "images",
            "images",
            "Local base images for examples and tests, built from Debian packages (no registry).",
        ),
    ),
    **_commands(
        "sqlite.cli",
        (
            "sqlite",
            "sqlite_group",
            "SQLite over TCP: a server with a telnet-friendly protocol, and its shell.",
        ),
    ),
    **_commands(
        "cli.serve",
        ("serve", "serve", "HTTP API and live dashboard: topology, faults, events, controls."),
    ),
    **_commands(
        "cli.config",
        (
            "config",
            "config",
            "Check the cluster files and print the model Squall runs, as Compose prints it.",
        ),
    ),
    **_commands(
        "cli.faults",
        (
            "shape",
            "shape",
            "Shape a service's traffic: Comcast's and Pumba's netem options in one command.",
        ),
        (
            "slow",
            "slow",
            "Blockade's slow: delay from x-squall presets (default 75ms 100ms normal).",
        ),
        ("flaky", "flaky", "Blockade's flaky: packet loss (default 30%)."),
        ("duplicate", "duplicate", "Blockade's duplicate: packets sent twice (default 5%)."),
        (
            "fast",
            "fast",
            "Remove all shaping from services (partitions stay; `squall join` heals those).",
        ),
        (
            "partition",
            "partition",
            "Cut the cluster into groups that cannot reach each other; replaces the last one.",
        ),
        (
            "isolate",
            "isolate_command",
            "Cut SERVICE off from all others (each one named is alone); replaces the partition.",
        ),
        ("join", "join", "Heal every partition (shaping stays; `squall fast --all` clears that)."),
        (
            "reconcile",
            "reconcile",
            "Make the kernel hold the faults in force again, in every service"
            " (after a restart outside Squall; the watcher does it by itself within a second).",
        ),
        (
            "doctor",
            "doctor",
            "What this host can do (root, Docker, netem, NFQUEUE, tc) and the path per fault.",
        ),
    ),
    **_commands(
        "cli.observe",
        (
            "events",
            "events",
            "Every change Squall made to the cluster: time (UTC), who, what, targets, result.",
        ),
        (
            "probe",
            "probe",
            "Measure RTT (p50/p99), loss and optionally throughput between every pair.",
        ),
    ),
    **_commands(
        "cli.hosts",
        ("hosts", "hosts", "The Docker Engines of the cluster (`x-squall: hosts`, `-H NAME=URL`)."),
        (
            "wan",
            "wan",
            "Change one WAN link live between two zones, or remove them all (`--clear`).",
        ),
    ),
    **_commands(
        "cli.chaos",
        (
            "chaos",
            "chaos",
            "Faults on a seeded schedule while your system runs; Ctrl-C heals everything.",
        ),
    ),
}
"""Every command: its module, its attribute, and the line `squall --help` shows."""


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings=CONTEXT)
@click.option(
    "-f",
    "--file",
    "files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Cluster file (compose or blockade.yml); repeat to merge several in order. Default:"
    " COMPOSE_FILE, else the first of compose.yaml, compose.yml, docker-compose.yaml,"
    " docker-compose.yml (with its override file), blockade.yaml, blockade.yml here.",
)
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    help="Enable services of this profile (repeatable; default COMPOSE_PROFILES).",
)
@click.option(
    "--project-directory",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where relative paths and .env start (default: the first file's folder).",
)
@click.option(
    "--env-file",
    "env_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Variables for the files, instead of .env (repeatable).",
)
@click.option(
    "-p",
    "--project-name",
    "project",
    help="Cluster name (default: the file's `name:` or its folder).",
)
@click.option(
    "--backend",
    type=click.Choice(BACKEND_NAMES),
    default="auto",
    envvar="SQUALL_BACKEND",
    show_default=True,
    help="Where services run.",
)
@click.option(
    "-H",
    "--host",
    "hosts",
    multiple=True,
    metavar="NAME=URL",
    help="An engine of the cluster (DOCKER_HOST syntax: ssh://, tcp://, unix://), added to"
    " or overriding the file's `x-squall: hosts`; repeatable.",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Show every engine and kernel call Squall makes."
)
@click.version_option(__version__, prog_name="squall")
@click.pass_context
def cli(
    ctx: click.Context,
    files: tuple[Path, ...],
    profiles: tuple[str, ...],
    project_directory: Path | None,
    env_files: tuple[Path, ...],
    project: str | None,
    backend: str,
    hosts: tuple[str, ...],
    verbose: bool,
) -> None:
    """Bring up a cluster from one compose file, then make its network misbehave.

    \b
    Examples:
      squall up                        start ./compose.yaml (or -f FILE)
      squall status                    services, state, health, IP per network
      squall exec api -- sh            a shell inside service api
      squall stop db · squall kill --random · squall start --all
      squall net create side --subnet 10.77.0.0/24 && squall net connect side api
      squall down                      remove containers and networks; nothing left
    """
    if verbose:
        logging.basicConfig(format="squall: %(message)s", stream=sys.stderr)
        logging.getLogger("squall").setLevel(logging.DEBUG)
    loading = Where(
        project_directory=project_directory, env_files=env_files, profiles=profiles, hosts=hosts
    )
    options = Options(files, project, backend, verbose=verbose, loading=loading)
    ctx.obj = options

    ctx.call_on_close(options.close)


def main() -> None:
    """Console entry point: run the CLI and turn every Squall error into one line."""
    try:
        code = cli.main(prog_name="squall", standalone_mode=False)
    except SquallError as exc:
        click.echo(f"squall: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        # One line, as for every other error; the command's --help teaches the rest.
        where = exc.ctx.command_path if exc.ctx is not None else "squall"
        line = f"squall: error: {exc.format_message()} (see `{where} --help`)"
        click.echo(line, err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.Abort):
        click.echo(
            "squall: interrupted; anything half-made is labelled: `squall down` removes it",
            err=True,
        )
        sys.exit(130)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
