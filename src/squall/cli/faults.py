"""Fault commands: shape, Blockade's presets, partitions, join, doctor."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

import click
from rich.table import Table

from squall.cli.options import CONTEXT, Options, chosen_services, pass_options, service_targets
from squall.doctor import diagnose
from squall.faults.controller import PlannedNamespace
from squall.faults.model import DIRECTIONS, DISTRIBUTIONS, PROTOS
from squall.faults.partition import JEPSEN_SHAPES
from squall.faults.request import (
    build_isolation,
    build_partition,
    build_shape,
    describe_partition,
)
from squall.session import Session

dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Print the kernel rules it would set; change nothing."
)


def _report(options: Options, planned: Sequence[PlannedNamespace], dry_run: bool) -> None:
    if dry_run:
        for p in planned:
            click.echo(p.plan.render())
        return
    for p in planned:
        for note in p.resolved.notes:
            options.say(f"note: {p.service}: {note}")


@click.command(context_settings=CONTEXT)
@service_targets
@click.option("--delay", help="Added latency, e.g. 100ms.")
@click.option("--jitter", help="Spread of the delay, e.g. 10ms (needs --delay).")
@click.option(
    "--distribution",
    type=click.Choice(DISTRIBUTIONS),
    default="uniform",
    show_default=True,
    help="Shape of the jitter.",
)
@click.option("--correlation", help="Delay correlation with the previous packet, e.g. 25%.")
@click.option("--loss", help="Packets dropped, e.g. 20%.")
@click.option("--loss-correlation", help="Loss correlation, e.g. 25% (bursts).")
@click.option("--rate", help="Bandwidth cap: 50kbps (kilobytes/s), 2mbit (megabits/s)...")
@click.option("--duplicate", help="Packets sent twice, e.g. 1%.")
@click.option("--corrupt", help="Packets with one bit flipped, e.g. 0.1%.")
@click.option("--reorder", help="Packets sent at once, ahead of delayed ones, e.g. 5%.")
@click.option(
    "--to",
    "peers",
    multiple=True,
    help="Only traffic with these peers: service names or CIDRs (repeat or a,b).",
)
@click.option("--port", help="Only these destination ports: 80,1000:2000.")
@click.option("--proto", type=click.Choice(PROTOS), help="Only this protocol.")
@click.option(
    "--direction",
    type=click.Choice(DIRECTIONS),
    default="egress",
    show_default=True,
    help="Outgoing, incoming, or both.",
)
@click.option("--duration", help="Remove this shape by itself after e.g. 30s.")
@dry_run_option
@pass_options
def shape(
    options: Options,
    services: tuple[str, ...],
    all_services: bool,
    pick_random: bool,
    delay: str | None,
    jitter: str | None,
    distribution: str,
    correlation: str | None,
    loss: str | None,
    loss_correlation: str | None,
    rate: str | None,
    duplicate: str | None,
    corrupt: str | None,
    reorder: str | None,
    peers: tuple[str, ...],
    port: str | None,
    proto: str | None,
    direction: str,
    duration: str | None,
    dry_run: bool,
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
    session = options.session()
    request = build_shape(
        known_services=session.known_services(),
        delay=delay,
        jitter=jitter,
        distribution=distribution,
        correlation=correlation,
        loss=loss,
        loss_correlation=loss_correlation,
        rate=rate,
        duplicate=duplicate,
        corrupt=corrupt,
        reorder=reorder,
        to=peers,
        port=port,
        proto=proto,
        direction=direction,
        duration=duration,
    )
    the_shape, to_services = request.shape, request.to_services
    chosen = chosen_services(session, services, all_services, pick_random)
    planned = session.shape(chosen, the_shape, to_services=to_services, dry_run=dry_run)
    _report(options, planned, dry_run)
    if not dry_run:
        target = f" to {','.join(to_services)}" if to_services else ""
        until = f" for {duration}" if duration else ""
        options.say(f"shaped {', '.join(chosen)}: {the_shape}{target}{until}")


def _preset_command(name: str, summary: str) -> click.Command:
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
        session = options.session()
        chosen = chosen_services(session, services, all_services, pick_random)
        planned = session.preset(name, chosen, dry_run=dry_run)  # type: ignore[arg-type]
        _report(options, planned, dry_run)
        if not dry_run:
            options.say(f"{name}: {', '.join(chosen)} ({getattr(session.presets(), name)})")

    command.__doc__ = summary
    return click.command(name=name, context_settings=CONTEXT)(command)


slow = _preset_command(
    "slow", "Blockade's slow: delay from x-squall presets (default 75ms 100ms normal)."
)
flaky = _preset_command("flaky", "Blockade's flaky: packet loss (default 30%).")
duplicate = _preset_command("duplicate", "Blockade's duplicate: packets sent twice (default 5%).")


@click.command(context_settings=CONTEXT)
@service_targets
@dry_run_option
@pass_options
def fast(
    options: Options,
    services: tuple[str, ...],
    all_services: bool,
    pick_random: bool,
    dry_run: bool,
) -> None:
    """Remove all shaping from services (partitions stay; `squall join` heals those)."""
    session = options.session()
    chosen = chosen_services(session, services, all_services, pick_random)
    planned = session.fast(chosen, dry_run=dry_run)
    _report(options, planned, dry_run)
    if not dry_run:
        options.say(f"fast: {', '.join(chosen)}")


def _groups(texts: Sequence[str]) -> list[list[str]]:
    return [[s for s in text.split(",") if s] for text in texts]


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
@dry_run_option
@pass_options
def partition(
    options: Options,
    groups: tuple[str, ...],
    pick_random: bool,
    one_way: bool,
    jepsen_shape: str | None,
    seed: int | None,
    dry_run: bool,
) -> None:
    """Cut the cluster into groups that cannot reach each other; replaces the last one.

    \b
    Examples:
      squall partition api,db cache      api+db | cache | everyone else
      squall partition --random --seed 7
      squall partition --one-way api db  api cannot reach db; db still reaches api
      squall partition --shape majorities-ring
    Holy services are never partitioned; neutral ones stay reachable from every group.
    """
    session = options.session()
    services = session.known_services()
    holy, neutral = session.roles()
    cut = build_partition(
        _groups(groups),
        services=services,
        holy=holy,
        neutral=neutral,
        one_way_cut=one_way,
        pick_random=pick_random,
        jepsen_shape=jepsen_shape,
        seed=seed,
    )
    planned = session.partition(cut, dry_run=dry_run)
    _report(options, planned, dry_run)
    if not dry_run:
        options.say(describe_partition(cut))


@click.command(name="isolate", context_settings=CONTEXT)
@click.argument("services", nargs=-1, required=True)
@dry_run_option
@pass_options
def isolate_command(options: Options, services: tuple[str, ...], dry_run: bool) -> None:
    """Cut SERVICE off from all others (each one named is alone); replaces the partition."""
    session = options.session()
    known = session.known_services()
    holy, neutral = session.roles()
    cut = build_isolation(services, known=known, holy=holy, neutral=neutral)
    planned = session.partition(cut, dry_run=dry_run)
    _report(options, planned, dry_run)
    if not dry_run:
        options.say(describe_partition(cut))


@click.command(context_settings=CONTEXT)
@dry_run_option
@pass_options
def join(options: Options, dry_run: bool) -> None:
    """Heal every partition (shaping stays; `squall fast --all` clears that)."""
    session: Session = options.session()
    planned = session.join(dry_run=dry_run)
    _report(options, planned, dry_run)
    if not dry_run:
        options.say("joined: every service reaches every other")


@click.command(context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_options
def doctor(options: Options, as_json: bool) -> None:
    """What this host can do (root, Docker, netem, NFQUEUE, tc) and the path per fault."""
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


COMMANDS = (shape, slow, flaky, duplicate, fast, partition, isolate_command, join, doctor)
