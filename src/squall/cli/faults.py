"""Fault commands: shape, Blockade's presets, partitions, join, doctor."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, cast

import click

from squall.cli.options import (
    CONTEXT,
    Options,
    field_options,
    given,
    pass_options,
    service_targets,
    targets,
)
from squall.faults.partition import JEPSEN_SHAPES
from squall.ops.fields import SHAPE_FIELDS, ShapeFields
from squall.ops.requests import (
    ChangeRequest,
    JoinRequest,
    PartitionRequest,
    PresetChoice,
    PresetRequest,
    ReconcileRequest,
    ShapeRequest,
)
from squall.ops.results import Result

dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Print the kernel rules it would set; change nothing."
)


def run_and_report(options: Options, request: ChangeRequest) -> Result:
    """Run a fault request; print the plan (`--dry-run`) or the notes and the message."""
    result = options.ops().run(request)
    if result.dry_run:
        for text in result.plan:
            click.echo(text)
        return result
    for note in result.notes:
        options.say(f"note: {note}")
    options.say(result.message)
    return result


@click.command(context_settings=CONTEXT)
@service_targets
@field_options(SHAPE_FIELDS)
@dry_run_option
@pass_options
def shape(
    options: Options,
    /,
    services: tuple[str, ...],
    all_services: bool,
    pick_random: bool,
    dry_run: bool,
    **fields: Any,
) -> None:
    """Shape a service's traffic: Comcast's and Pumba's netem options in one command.

    \b
    Examples:
      squall shape api --delay 100ms --jitter 10ms --distribution normal
      squall shape api --rate 50kbps --loss 20% --to db --port 5432
      squall shape web --loss 5% --direction ingress --duration 30s
    Several shapes on one service combine, one per peer/port selection; the most
    specific selection wins for a packet. `squall fast SERVICE` removes them.
    """
    chosen = cast(ShapeFields, given(fields, SHAPE_FIELDS))
    request = ShapeRequest(targets(services, all_services, pick_random), chosen, dry_run)
    run_and_report(options, request)


def _preset_command(name: PresetChoice, summary: str) -> click.Command:
    @service_targets
    @dry_run_option
    @pass_options
    def command(
        options: Options,
        services: tuple[str, ...],
        all_services: bool,
        pick_random: bool,
        dry_run: bool,
    ) -> None:
        request = PresetRequest(name, targets(services, all_services, pick_random), dry_run)
        run_and_report(options, request)

    command.__doc__ = summary
    return click.command(name=name, context_settings=CONTEXT)(command)


slow = _preset_command(
    "slow", "Blockade's slow: delay from x-squall presets (default 75ms 100ms normal)."
)
flaky = _preset_command("flaky", "Blockade's flaky: packet loss (default 30%).")
duplicate = _preset_command("duplicate", "Blockade's duplicate: packets sent twice (default 5%).")
fast = _preset_command(
    "fast", "Remove all shaping from services (partitions stay; `squall join` heals those)."
)


@click.command(context_settings=CONTEXT)
@click.argument("groups", nargs=-1)
@click.option("--random", "pick_random", is_flag=True, help="A random partition (Blockade).")
@click.option(
    "--one-way", is_flag=True, help="Two groups A B: A cannot reach B, B still reaches A."
)
@click.option(
    "--shape",
    "jepsen_shape",
    type=click.Choice(JEPSEN_SHAPES),
    help="One of Jepsen's partition shapes.",
)
@click.option("--seed", type=int, help="Seed for --random and --shape.")
@click.option(
    "--zones", is_flag=True, help="GROUPS name zones (x-squall: zones), each zone one group."
)
@dry_run_option
@pass_options
def partition(
    options: Options,
    groups: tuple[str, ...],
    pick_random: bool,
    one_way: bool,
    jepsen_shape: str | None,
    seed: int | None,
    zones: bool,
    dry_run: bool,
) -> None:
    """Cut the cluster into groups that cannot reach each other; replaces the last one.

    \b
    Examples:
      squall partition api,db cache      api+db | cache | everyone else
      squall partition --random --seed 7
      squall partition --one-way api db  api cannot reach db; db still reaches api
      squall partition --shape majorities-ring
      squall partition --zones eu us     the services of zone eu | those of us
    Holy services are never partitioned; neutral ones stay reachable from every group.
    """
    request = PartitionRequest(
        groups=tuple(tuple(s for s in text.split(",") if s) for text in groups),
        one_way=one_way,
        random=pick_random,
        shape=jepsen_shape,  # type: ignore[arg-type]  # a click.Choice of JEPSEN_SHAPES
        seed=seed,
        zones=zones,
        dry_run=dry_run,
    )
    run_and_report(options, request)


@click.command(name="isolate", context_settings=CONTEXT)
@click.argument("services", nargs=-1, required=True)
@dry_run_option
@pass_options
def isolate_command(options: Options, services: tuple[str, ...], dry_run: bool) -> None:
    """Cut SERVICE off from all others (each one named is alone); replaces the partition."""
    run_and_report(options, PartitionRequest(isolate=services, dry_run=dry_run))


@click.command(context_settings=CONTEXT)
@dry_run_option
@pass_options
def join(options: Options, dry_run: bool) -> None:
    """Heal every partition (shaping stays; `squall fast --all` clears that)."""
    run_and_report(options, JoinRequest(dry_run))


@click.command(context_settings=CONTEXT)
@dry_run_option
@pass_options
def reconcile(options: Options, dry_run: bool) -> None:
    """Make the kernel hold the faults in force again, in every service (after a restart
    outside Squall; the watcher does it by itself within a second)."""
    run_and_report(options, ReconcileRequest(dry_run))


@click.command(context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_options
def doctor(options: Options, as_json: bool) -> None:
    """What this host can do (root, Docker, netem, NFQUEUE, tc) and the path per fault."""
    from rich.table import Table

    from squall.doctor import diagnose
    from squall.state import default_state_root

    found = diagnose(default_state_root())
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(found), indent=2))
    else:
        checks = Table(title="squall doctor", title_justify="left", box=None, pad_edge=False)
        for column in ("CHECK", "OK", "DETAIL"):
            checks.add_column(column)
        for c in found.checks:
            mark = "[green]yes[/]" if c.ok else "[red]NO[/]" if c.required else "[yellow]no[/]"
            checks.add_row(c.name, mark, c.detail)
        options.out.print(checks)
        paths = Table(title="fault paths", title_justify="left", box=None, pad_edge=False)
        paths.add_column("FAULT")
        paths.add_column("MECHANISM ON THIS HOST")
        for kind, how in found.paths.items():
            paths.add_row(kind, how)
        options.out.print(paths)
    if not found.ok:
        raise click.exceptions.Exit(1)
