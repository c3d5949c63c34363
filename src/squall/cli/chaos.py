"""`squall chaos`, `squall chaos stop`, `squall chaos replay LOG`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from squall import events as event_log
from squall.chaos.runner import ChaosState, Stop, run_events, signals_stop
from squall.cli.options import CONTEXT, Options, field_options, pass_options
from squall.ops.fields import fields_of
from squall.ops.requests import ChaosRequest, ChaosStopRequest

CHAOS_FIELDS = fields_of(ChaosRequest)


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

    def __call__(self, state: ChaosState) -> None:
        if self.live is None:
            for line in state.log[self.printed :]:
                self.options.say(line)
            self.printed = len(state.log)
            return
        self.live.update(self.render(state))

    def render(self, state: ChaosState) -> Group:
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
@field_options(CHAOS_FIELDS)
@click.option("--detach", is_flag=True, help="Run in the background; `squall chaos stop` ends it.")
@click.option("--dry-run", is_flag=True, help="Print the timeline; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: the timeline as JSON.")
@pass_options
@click.pass_context
def chaos(
    ctx: click.Context,
    options: Options,
    /,
    detach: bool,
    dry_run: bool,
    as_json: bool,
    **fields: Any,
) -> None:
    """Faults on a seeded schedule while your system runs; Ctrl-C heals everything.

    \b
    Examples:
      squall chaos --duration 10m --seed 7 --events partition,slow,flaky,kill
      squall chaos --interval 2s..5s --hold 5s..10s --at-once 1..2 --detach
      squall chaos stop                  heal and end a detached run
      squall chaos replay events.jsonl   the same changes at the same offsets
    Each round, --at-once services (each a different one) get a fault of a kind drawn
    from --events: partition is a Jepsen shape, isolate cuts the service off alone (as
    Blockade's chaos did). Holy services are never touched, neutral ones never
    partitioned. Ctrl-C puts back the faults in force before the run began. Every
    change lands in `squall events` (who: chaos).
    """
    if ctx.invoked_subcommand is not None:
        return
    defaults = ChaosRequest()
    request = ChaosRequest(
        **{k: v if v is not None else getattr(defaults, k) for k, v in fields.items()}
    )
    ops = options.ops(need_file=True)
    if detach:
        options.say(ops.run(request).message)
        options.say("`squall chaos stop` heals and ends it; `squall events -f` follows it")
        return
    plan = ops.plan_chaos(request)
    if dry_run:
        if as_json:
            click.echo(json.dumps(plan.to_dict(), indent=2))
            return
        for rnd in plan.rounds:
            faults = "; ".join(f.describe() for f in rnd.faults) or "-"
            click.echo(f"{rnd.at:8.1f}s  for {rnd.hold:5.1f}s  {faults}")
        return
    options.say(f"chaos run, seed {plan.seed}: Ctrl-C heals and stops")
    stop = Stop()
    with signals_stop(stop), _View(options, "chaos") as view:
        state = ops.run_chaos(plan, stop, view)
    options.say(f"chaos run {state.run} {state.finished}; everything healed (see `squall events`)")


@chaos.command(name="stop")
@pass_options
def chaos_stop(options: Options) -> None:
    """Stop the cluster's chaos run (detached or in another shell); it heals first."""
    options.say(options.ops().run(ChaosStopRequest()).message)


@chaos.command(name="replay")
@click.argument("log", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--run", "run_id", help="Which run in LOG (default: the last one).")
@pass_options
def chaos_replay(options: Options, log: Path, run_id: str | None) -> None:
    """Make a recorded chaos run's changes again, at the same offsets.

    LOG is an event log (`events.jsonl`, or a copy of it).
    """
    recorded = run_events(event_log.read(log), run_id)
    options.say(f"replaying chaos run {recorded[0].run}: Ctrl-C heals and stops")
    stop = Stop()
    with signals_stop(stop), _View(options, "replay") as view:
        state = options.ops(need_file=True).replay_chaos(recorded, stop, view)
    options.say(f"replay {state.run} {state.finished}")
