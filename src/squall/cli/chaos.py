"""`squall chaos`, `squall chaos stop`, `squall chaos replay LOG`."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import click
from rich.console import Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from squall import chaos as chaos_run
from squall import events as event_log
from squall.cli.options import CONTEXT, Options, pass_options
from squall.events import Actor
from squall.session import Session


def _chaos_session(options: Options, run: str, **extra: object) -> Session:
    session = options.session(need_file=True)
    session.actor = Actor("chaos", run=run, extra=dict(extra))
    return session


class _View:
    """A live table on a terminal; otherwise one plain line per step."""

    def __init__(self, options: Options, title: str) -> None:
        self.options = options
        self.title = title
        self.live: Live | None = None
        self.printed = 0

    def __enter__(self) -> _View:
        if self.options.err.is_terminal:
            self.live = Live(console=self.options.err, refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def __call__(self, state: chaos_run.ChaosState) -> None:
        if self.live is None:
            for line in state.log[self.printed :]:
                self.options.say(line)
            self.printed = len(state.log)
            return
        self.live.update(self.render(state))

    def render(self, state: chaos_run.ChaosState) -> Group:
        now = time.monotonic()
        elapsed = state.elapsed(now)
        header = Text(
            f"{self.title} run {state.run} seed {state.plan.seed}: "
            f"{elapsed:.1f}s / {state.plan.duration:g}s",
            style="bold",
        )
        table = Table(box=None, pad_edge=False, title="in force", title_justify="left")
        table.add_column("FAULT")
        table.add_column("FOR", justify="right")
        for held in state.in_force:
            left = max(0.0, held.until - now)
            text = Text(held.fault.describe(), style="red" if held.error else "magenta")
            table.add_row(text, f"{left:.1f}s")
        if not state.in_force:
            table.add_row(Text("nothing", style="green"), "")
        lines: list[RenderableType] = [header, table]
        if state.next_at is not None:
            lines.append(Text(f"next round in {max(0.0, state.next_at - elapsed):.1f}s"))
        lines.append(Text("\n".join(state.log[-8:]), style="dim"))
        return Group(*lines)


@click.group(name="chaos", invoke_without_command=True, context_settings=CONTEXT)
@click.option("--duration", default="10m", show_default=True, help="How long to run.")
@click.option("--seed", type=int, help="Same seed, same cluster: same timeline (default random).")
@click.option(
    "--events",
    "kinds",
    default=",".join(chaos_run.KINDS),
    show_default=True,
    help="Kinds of fault to draw from.",
)
@click.option("--interval", default="5s..30s", show_default=True, help="Calm between rounds.")
@click.option("--hold", default="5s..30s", show_default=True, help="How long a round lasts.")
@click.option("--at-once", default="1..1", show_default=True, help="Faults per round.")
@click.option("--detach", is_flag=True, help="Run in the background; `squall chaos stop` ends it.")
@click.option("--dry-run", is_flag=True, help="Print the timeline; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: the timeline as JSON.")
@pass_options
@click.pass_context
def chaos(
    ctx: click.Context,
    options: Options,
    duration: str,
    seed: int | None,
    kinds: str,
    interval: str,
    hold: str,
    at_once: str,
    detach: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Faults on a seeded schedule while your system runs; Ctrl-C heals everything.

    \b
    Examples:
      squall chaos --duration 10m --seed 7 --events partition,slow,flaky,kill
      squall chaos --interval 2s..5s --hold 5s..10s --at-once 1..2 --detach
      squall chaos stop                  heal and end a detached run
      squall chaos replay events.jsonl   the same changes at the same offsets
    Partitions use Jepsen's shapes; holy services are never touched, neutral ones
    never partitioned. Every change lands in `squall events` (who: chaos).
    """
    if ctx.invoked_subcommand is not None:
        return
    from squall.units import parse_duration

    seconds = parse_duration(duration, "--duration").seconds
    chosen_seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    session = options.session(need_file=True)
    holy, neutral = session.roles()
    plan = chaos_run.plan_chaos(
        session.known_services(),
        seed=chosen_seed,
        duration=seconds,
        kinds=chaos_run.parse_kinds(kinds),
        interval=chaos_run.parse_span(interval, "--interval"),
        hold=chaos_run.parse_span(hold, "--hold"),
        at_once=chaos_run.parse_count_span(at_once, "--at-once"),
        holy=holy,
        neutral=neutral,
    )
    if dry_run:
        if as_json:
            click.echo(json.dumps(plan.to_dict(), indent=2))
            return
        for rnd in plan.rounds:
            faults = "; ".join(f.describe() for f in rnd.faults) or "-"
            click.echo(f"{rnd.at:8.1f}s  for {rnd.hold:5.1f}s  {faults}")
        return
    if detach:
        _detach(options, session, chosen_seed, duration, kinds, interval, hold, at_once)
        return
    run = chaos_run.new_run_id()
    session = _chaos_session(options, run, seed=chosen_seed)
    options.say(f"chaos run {run}, seed {chosen_seed}: Ctrl-C heals and stops")
    stop = chaos_run.Stop()
    with (
        chaos_run.pidfile(session.state.ensure()),
        chaos_run.signals_stop(stop),
        _View(options, "chaos") as view,
    ):
        state = chaos_run.ChaosRunner(session, stop, view).run(plan, run)
    options.say(f"chaos run {run} {state.finished}; everything healed (see `squall events`)")


def _detach(
    options: Options,
    session: Session,
    seed: int,
    duration: str,
    kinds: str,
    interval: str,
    hold: str,
    at_once: str,
) -> None:
    pid = chaos_run.start_detached(
        session, options.backend_name, seed, duration, kinds, interval, hold, at_once
    )
    options.say(f"chaos running in the background: pid {pid}, seed {seed}")
    options.say("`squall chaos stop` heals and ends it; `squall events -f` follows it")


@chaos.command(name="stop")
@pass_options
def chaos_stop(options: Options) -> None:
    """Stop the cluster's chaos run (detached or in another shell); it heals first."""
    session = options.session()
    pid = chaos_run.stop_chaos(session.state.path)
    if pid is None:
        options.say("no chaos run is going on this cluster")
    else:
        options.say(f"chaos run {pid} stopped and healed")


@chaos.command(name="replay")
@click.argument("log", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--run", "run_id", help="Which run in LOG (default: the last one).")
@pass_options
def chaos_replay(options: Options, log: Path, run_id: str | None) -> None:
    """Make a recorded chaos run's changes again, at the same offsets.

    LOG is an event log (`events.jsonl`, or a copy of it).
    """
    recorded = chaos_run.run_events(event_log.read(log), run_id)
    original = recorded[0].run
    run = chaos_run.new_run_id()
    session = _chaos_session(options, run, replay_of=original)
    options.say(f"replaying chaos run {original} as {run}: Ctrl-C heals and stops")
    stop = chaos_run.Stop()
    with (
        chaos_run.pidfile(session.state.ensure()),
        chaos_run.signals_stop(stop),
        _View(options, "replay") as view,
    ):
        state = chaos_run.ChaosRunner(session, stop, view).replay(recorded, run)
    options.say(f"replay {run} {state.finished}")


COMMANDS = (chaos,)
