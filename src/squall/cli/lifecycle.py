"""The cluster's life: up, down, status, logs, exec and the start/stop/kill actions."""

from __future__ import annotations

import dataclasses
import os
import sys

import click

from squall.cli.options import CONTEXT, Options, pass_options, service_targets, targets
from squall.cli.progress import ConsoleProgress
from squall.cli.render import status_json, status_table
from squall.ops.parsing import parse_scale
from squall.ops.requests import ActionRequest, DownRequest, UpRequest
from squall.runtime.base import Action


@click.command(context_settings=CONTEXT)
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


@click.command(context_settings=CONTEXT)
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


@click.command(name="status", context_settings=CONTEXT)
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


@click.command(context_settings=CONTEXT)
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


@click.command(
    name="exec",
    context_settings={**CONTEXT, "ignore_unknown_options": True, "allow_interspersed_args": False},
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


start = _action_command(Action.START, "Start stopped services: SERVICE... | --all | --random.")
stop = _action_command(Action.STOP, "Stop services (SIGTERM, then SIGKILL after 10 s).")
restart = _action_command(Action.RESTART, "Restart services.")
kill = _action_command(Action.KILL, "Send a signal to services (default SIGKILL).")
pause = _action_command(Action.PAUSE, "Freeze every process of services (cgroup freezer).")
unpause = _action_command(Action.UNPAUSE, "Thaw paused services.")
