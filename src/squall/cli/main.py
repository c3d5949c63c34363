"""The `squall` command: parse into a request, run it, print. Errors exit here, once."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from pathlib import Path

import click
from rich.console import Console

from squall import __version__
from squall.cli import chaos as chaos_commands
from squall.cli import config as config_command
from squall.cli import faults as fault_commands
from squall.cli import hosts as hosts_commands
from squall.cli import observe as observe_commands
from squall.cli.options import CONTEXT, Options, pass_options, service_targets, targets
from squall.cli.progress import ConsoleProgress
from squall.cli.render import network_table, status_json, status_table, to_json
from squall.cli.serve import serve as serve_command
from squall.errors import SquallError
from squall.ops.opening import Where
from squall.ops.parsing import parse_scale
from squall.ops.requests import (
    ActionRequest,
    DownRequest,
    NetConnectRequest,
    NetCreateRequest,
    NetDisconnectRequest,
    NetRemoveRequest,
    UpRequest,
)
from squall.runtime.base import Action
from squall.runtime.select import BACKEND_NAMES
from squall.sqlite.cli import sqlite_group


@click.group(context_settings=CONTEXT)
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


@cli.command()
@click.option("--build", is_flag=True, help="Build images of services with `build:` first.")
@click.option("--force", is_flag=True, help="Recreate containers even if unchanged.")
@click.option(
    "--scale",
    "scales",
    multiple=True,
    metavar="SERVICE=N",
    help="Run N containers of SERVICE (instead of deploy.replicas); repeatable.",
)
@click.option(
    "--no-deps", is_flag=True, help="With SERVICE...: start only those, not their dependencies."
)
@click.argument("services", nargs=-1)
@pass_options
def up(
    options: Options,
    build: bool,
    force: bool,
    scales: tuple[str, ...],
    no_deps: bool,
    services: tuple[str, ...],
) -> None:
    """Create networks and volumes, then start services in dependency order.

    With SERVICE..., only those and what they depend on (their profiles enabled).
    Running it again changes only what differs from the file. Ctrl-C stops cleanly;
    `squall down` then removes whatever was created.
    """
    options.loading = dataclasses.replace(
        options.loading, scale=parse_scale(scales), services=services
    )
    ops = options.ops(need_file=True)
    request = UpRequest(build=build, force=force, services=services, no_deps=no_deps)
    with ConsoleProgress(options.err, title=f"squall up {ops.project}") as progress:
        ops.run(request, progress)
    options.out.print(status_table(ops.status(read_kernel=False), kernel_note=False))


@cli.command()
@click.option("-v", "--volumes", is_flag=True, help="Also remove the cluster's named volumes.")
@click.option(
    "--rmi",
    type=click.Choice(["local"]),
    help="Also remove images: `local` = those built for the cluster's `build:` services,"
    " with the untagged ones their rebuilds left (base images such as squall/debian stay).",
)
@pass_options
def down(options: Options, volumes: bool, rmi: str | None) -> None:
    """Remove every container and network of the cluster (found by label, even after a crash).

    With -p NAME it works from any directory, and even if the cluster file no longer loads.
    """
    ops = options.ops(removing=True)
    with ConsoleProgress(options.err, title=f"squall down {ops.project}") as progress:
        ops.run(DownRequest(volumes=volumes, images=rmi == "local"), progress)


@cli.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_options
def status(options: Options, as_json: bool) -> None:
    """Services: id, state, health, IP per network, and the faults in force.

    Faults are shown as desired and checked against what the kernel really holds;
    any difference is flagged as drift (reading the kernel needs root), and then the
    exit code is 3 and the last line says what repairs it (`squall reconcile`).
    """
    report = options.ops().status(read_kernel=os.geteuid() == 0)
    if as_json:
        click.echo(status_json(report))
    else:
        options.out.print(status_table(report))
    drift = report.drift_error()
    if drift is not None:
        raise drift


cli.add_command(status, name="ps")


@cli.command()
@click.argument("service")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new output.")
@click.option("--tail", type=click.IntRange(min=0), help="Only the last N lines.")
@pass_options
def logs(options: Options, service: str, follow: bool, tail: int | None) -> None:
    """Print a service's output."""
    out = sys.stdout.buffer
    for chunk in options.ops().logs(service, follow=follow, tail=tail):
        out.write(chunk)
        out.flush()


@cli.command(
    name="exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.option("-T", "no_tty", is_flag=True, help="Do not allocate a terminal.")
@click.argument("service")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
@pass_options
def exec_command(options: Options, no_tty: bool, service: str, command: tuple[str, ...]) -> None:
    """Run COMMAND inside SERVICE: squall exec api -- sh -c 'echo hi'."""
    argv = list(command[1:] if command[:1] == ("--",) else command)
    tty = not no_tty and sys.stdin.isatty() and sys.stdout.isatty()
    sys.exit(options.ops().exec(service, argv, tty=tty))


def _action_command(action: Action, help_text: str) -> click.Command:
    @service_targets
    @pass_options
    def command(
        options: Options,
        services: tuple[str, ...],
        all_services: bool,
        pick_random: bool,
        signal: str | None = None,
    ) -> None:
        request = ActionRequest(action, targets(services, all_services, pick_random), signal)
        options.say(options.ops().run(request).message)

    command.__doc__ = help_text
    if action is Action.KILL:
        command = click.option(
            "-s", "--signal", default="SIGKILL", show_default=True, help="Signal to send."
        )(command)
    return click.command(name=str(action))(command)


for _action, _help in (
    (Action.START, "Start stopped services: SERVICE... | --all | --random."),
    (Action.STOP, "Stop services (SIGTERM, then SIGKILL after 10 s)."),
    (Action.RESTART, "Restart services."),
    (Action.KILL, "Send a signal to services (default SIGKILL)."),
    (Action.PAUSE, "Freeze every process of services (cgroup freezer)."),
    (Action.UNPAUSE, "Thaw paused services."),
):
    cli.add_command(_action_command(_action, _help))


@cli.group(context_settings=CONTEXT)
def net() -> None:
    """User-defined networks: multi-homed services, names resolve on shared networks."""


@net.command(name="ls")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_options
def net_ls(options: Options, as_json: bool) -> None:
    """List the cluster's networks with subnets and attached services."""
    ops = options.ops()
    networks = ops.networks()
    if as_json:
        click.echo(to_json(networks))
    else:
        options.out.print(network_table(networks, ops.project))


@net.command(name="create")
@click.argument("name")
@click.option("--subnet", help="CIDR, e.g. 10.77.0.0/24 (default: the engine picks one).")
@click.option("--internal", is_flag=True, help="No route out of the network.")
@pass_options
def net_create(options: Options, name: str, subnet: str | None, internal: bool) -> None:
    """Create a bridge network belonging to the cluster (removed by `down`)."""
    request = NetCreateRequest(name, subnet=subnet, internal=internal)
    options.say(options.ops().run(request).message)


@net.command(name="rm")
@click.argument("name")
@pass_options
def net_rm(options: Options, name: str) -> None:
    """Remove a cluster network."""
    options.say(options.ops().run(NetRemoveRequest(name)).message)


@net.command(name="connect")
@click.argument("network")
@click.argument("service")
@click.option("--alias", "aliases", multiple=True, help="Extra name for SERVICE on NETWORK.")
@pass_options
def net_connect(options: Options, network: str, service: str, aliases: tuple[str, ...]) -> None:
    """Attach SERVICE to NETWORK (it keeps its other networks)."""
    options.say(options.ops().run(NetConnectRequest(network, service, aliases)).message)


@net.command(name="disconnect")
@click.argument("network")
@click.argument("service")
@pass_options
def net_disconnect(options: Options, network: str, service: str) -> None:
    """Detach SERVICE from NETWORK."""
    options.say(options.ops().run(NetDisconnectRequest(network, service)).message)


@cli.group(context_settings=CONTEXT)
def images() -> None:
    """Local base images for examples and tests, built from Debian packages (no registry)."""


@images.command(name="build")
@click.option("--force", is_flag=True, help="Rebuild images that already exist.")
@pass_options
def images_build(options: Options, force: bool) -> None:
    """Build squall/busybox and squall/debian:bookworm from this host's Debian packages."""
    from squall.images import build_local_images

    with ConsoleProgress(options.err, title="squall images build") as progress:
        built = build_local_images(progress, force=force)
    for tag in built:
        click.echo(tag)


cli.add_command(sqlite_group, name="sqlite")
cli.add_command(serve_command)
cli.add_command(config_command.config)
cli.add_command(hosts_commands.hosts)
cli.add_command(hosts_commands.wan)
for _command in (
    *fault_commands.COMMANDS,
    *observe_commands.COMMANDS,
    *chaos_commands.COMMANDS,
):
    cli.add_command(_command)


def main() -> None:
    """Console entry point: run the CLI and turn every Squall error into one line."""
    err = Console(stderr=True)
    try:
        code = cli.main(prog_name="squall", standalone_mode=False)
    except SquallError as exc:
        err.print(f"squall: error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        # One line, as for every other error; the command's --help teaches the rest.
        where = exc.ctx.command_path if exc.ctx is not None else "squall"
        line = f"squall: error: {exc.format_message()} (see `{where} --help`)"
        err.print(line, markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.Abort):
        err.print(
            "squall: interrupted; anything half-made is labelled: `squall down` removes it",
            markup=False,
            highlight=False,
        )
        sys.exit(130)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
