"""Fault commands: shape, Blockade's presets, partitions, join, doctor."""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Sequence

import click
from rich.table import Table

from squall.cli.options import CONTEXT, Options, chosen_services, pass_options, service_targets
from squall.doctor import diagnose
from squall.errors import UsageError
from squall.faults.controller import PlannedNamespace
from squall.faults.model import (
    DIRECTIONS,
    DISTRIBUTIONS,
    PROTOS,
    Partition,
    Selector,
    Shape,
    parse_peer,
    parse_ports,
)
from squall.faults.partition import (
    JEPSEN_SHAPES,
    blockade_partition,
    isolate,
    jepsen,
    one_way,
    random_partition,
)
from squall.session import Session
from squall.units import Duration, parse_duration, parse_percent, parse_rate

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
    known = set(session.known_services())
    to_services: list[str] = []
    cidrs: list[str] = []
    for value in (p.strip() for text in peers for p in text.split(",") if p.strip()):
        if value in known:
            to_services.append(value)
        else:
            cidrs.append(parse_peer(value))
    expires = _expiry(duration)
    the_shape = Shape(
        delay=parse_duration(delay, "--delay") if delay else None,
        jitter=parse_duration(jitter, "--jitter") if jitter else None,
        distribution=distribution,  # type: ignore[arg-type]
        correlation=parse_percent(correlation, "--correlation") if correlation else None,
        loss=parse_percent(loss, "--loss") if loss else None,
        loss_correlation=parse_percent(loss_correlation, "--loss-correlation")
        if loss_correlation
        else None,
        rate=parse_rate(rate, "--rate") if rate else None,
        duplicate=parse_percent(duplicate, "--duplicate") if duplicate else None,
        corrupt=parse_percent(corrupt, "--corrupt") if corrupt else None,
        reorder=parse_percent(reorder, "--reorder") if reorder else None,
        selector=Selector(
            peers=tuple(cidrs),
            ports=parse_ports(port) if port else (),
            proto=proto,  # type: ignore[arg-type]
            direction=direction,  # type: ignore[arg-type]
        ),
        expires_at=expires,
    )
    chosen = chosen_services(session, services, all_services, pick_random)
    planned = session.shape(chosen, the_shape, to_services=to_services, dry_run=dry_run)
    _report(options, planned, dry_run)
    if not dry_run:
        target = f" to {','.join(to_services)}" if to_services else ""
        until = f" for {duration}" if duration else ""
        options.say(f"shaped {', '.join(chosen)}: {the_shape}{target}{until}")


def _expiry(duration: str | None) -> float | None:
    if duration is None:
        return None
    parsed: Duration = parse_duration(duration, "--duration")
    if parsed.ns <= 0:
        raise UsageError(f"--duration {duration}: must be more than 0")
    return time.time() + parsed.seconds


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
    rng = random.Random(seed)
    modes = sum((bool(groups) and not one_way, pick_random, one_way, jepsen_shape is not None))
    if modes != 1:
        raise UsageError("give groups (A,B C), or one of --random, --one-way A B, --shape NAME")
    if one_way:
        sides = _groups(groups)
        if len(sides) != 2:
            raise UsageError("--one-way takes two groups: SOURCE[,SOURCE] DEST[,DEST]")
        cut = one_way_partition(sides, services, holy)
    elif pick_random:
        cut = random_partition(services, rng, holy, neutral)
    elif jepsen_shape is not None:
        cut = jepsen(jepsen_shape, services, rng, holy, neutral)
    else:
        cut = blockade_partition(_groups(groups), services, holy, neutral)
    planned = session.partition(cut, dry_run=dry_run)
    _report(options, planned, dry_run)
    if not dry_run:
        options.say(describe_partition(cut))


def one_way_partition(sides: list[list[str]], services: Sequence[str], holy: set[str]) -> Partition:
    pairs = [(src, dst) for src in sides[0] for dst in sides[1]]
    return one_way(pairs, services, holy)


def describe_partition(cut: Partition) -> str:
    if not cut:
        return "no partition: every service reaches every other"
    if cut.groups:
        return f"partition ({cut.kind}): " + " | ".join(",".join(g) for g in cut.groups)
    arrows = ", ".join(f"{c.src}-/->{c.dst}" for c in cut.cuts)
    return f"partition ({cut.kind}): {arrows}"


@click.command(name="isolate", context_settings=CONTEXT)
@click.argument("services", nargs=-1, required=True)
@dry_run_option
@pass_options
def isolate_command(options: Options, services: tuple[str, ...], dry_run: bool) -> None:
    """Cut SERVICE off from all others (each one named is alone); replaces the partition."""
    session = options.session()
    known = session.known_services()
    holy, neutral = session.roles()
    if len(services) == 1:
        cut = isolate(services[0], known, holy, neutral)
    else:
        cut = blockade_partition([[s] for s in services], known, holy, neutral)
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
            checks.add_row(c.name, "[green]yes[/]" if c.ok else "[red]no[/]", c.detail)
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
