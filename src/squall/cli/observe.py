"""Commands that look and change nothing: `squall events` and `squall probe`."""

from __future__ import annotations

import json
import time

import click
from rich.table import Table
from rich.text import Text

from squall import events as event_log
from squall.cli.options import CONTEXT, Options, pass_options
from squall.ops.requests import ProbeRequest
from squall.probe import DEFAULT_COUNT, DEFAULT_THROUGHPUT_SECONDS, PairResult, ProbeReport


@click.command(name="events", context_settings=CONTEXT)
@click.option("-f", "--follow", is_flag=True, help="Keep printing events as they happen.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line, as stored.")
@click.option("--tail", type=click.IntRange(min=0), help="Only the last N events.")
@click.option(
    "--for",
    "follow_for",
    type=float,
    hidden=True,
    help="With -f: stop after this many seconds (for scripts and tests).",
)
@pass_options
def events(
    options: Options, follow: bool, as_json: bool, tail: int | None, follow_for: float | None
) -> None:
    """Every change Squall made to the cluster: time (UTC), who, what, targets, result.

    Changes by the CLI, the Python API, chaos runs and `--duration` timers all land in
    one log (`events.jsonl` in the state directory), kept after `down` until the next.
    """
    path = options.ops().events_path()

    def show(event: event_log.Event) -> None:
        if as_json:
            click.echo(event.to_json())
        else:
            style = "" if event.ok else "red"
            options.out.print(Text(event.describe(), style=style), soft_wrap=True)

    found = event_log.read(path)
    for event in found if tail is None else found[max(len(found) - tail, 0) :]:
        show(event)
    if not follow:
        return
    tail_reader = event_log.Tail.at_end(path)
    stop_at = None if follow_for is None else time.monotonic() + follow_for
    while stop_at is None or time.monotonic() < stop_at:
        for event in tail_reader.poll():
            show(event)
        time.sleep(0.2)
    for event in tail_reader.poll():
        show(event)


@click.command(name="probe", context_settings=CONTEXT)
@click.argument("services", nargs=-1)
@click.option(
    "-c",
    "--count",
    type=click.IntRange(min=1),
    default=DEFAULT_COUNT,
    show_default=True,
    help="Probes per pair and network.",
)
@click.option("--timeout", type=float, default=2.0, show_default=True, help="Wait for echoes.")
@click.option(
    "--throughput", is_flag=True, help="Also stream TCP for a moment per pair and count it."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_options
def probe(
    options: Options,
    services: tuple[str, ...],
    count: int,
    timeout: float,
    throughput: bool,
    as_json: bool,
) -> None:
    """Measure RTT (p50/p99), loss and optionally throughput between every pair.

    \b
    Probes are sent by Squall itself from inside each service's network namespace
    (UDP echo, and TCP for --throughput), so images need no tools. Figures are round
    trips, like ping's. With SERVICE names, only pairs from or to those services.
    Partitioned pairs are marked; a mark that disagrees with the figures is flagged.
    """
    request = ProbeRequest(
        services,
        count=count,
        timeout=timeout,
        throughput_seconds=DEFAULT_THROUGHPUT_SECONDS if throughput else None,
    )
    report = options.ops().probe(request)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    options.out.print(probe_table(report))


def _cell(results: list[PairResult]) -> Text:
    text = Text()
    for i, r in enumerate(results):
        if i:
            text.append("\n")
        if len(results) > 1:
            text.append(f"{r.network}: ", style="dim")
        if r.cut:
            text.append(
                "cut" if r.partitioned else "100% lost",
                style="magenta" if r.partitioned else "bold red",
            )
            continue
        p50, p99 = r.p50_ms or 0.0, r.p99_ms or 0.0
        text.append(f"{p50:.2f}/{p99:.2f}ms")
        if r.loss:
            text.append(f" {r.loss:.0%} lost", style="yellow")
        if r.partitioned:
            text.append(" (partitioned, yet reached!)", style="bold red")
        if r.throughput_mbit is not None:
            text.append(f" {r.throughput_mbit:.0f}Mbit/s", style="cyan")
        elif r.throughput_error:
            text.append(f" tcp: {r.throughput_error}", style="yellow")
    return text


def probe_table(report: ProbeReport) -> Table:
    table = Table(
        title=f"probe {report.project}: RTT p50/p99, loss ({report.count} probes a pair)",
        title_justify="left",
        box=None,
        pad_edge=False,
    )
    table.add_column("FROM \\ TO", no_wrap=True)
    for name in report.services:
        table.add_column(name)
    for src in report.services:
        row: list[Text | str] = [src]
        for dst in report.services:
            found = report.between(src, dst)
            if src == dst:
                row.append(Text("·", style="dim"))
            elif not found:
                row.append(Text("-", style="dim"))
            else:
                row.append(_cell(found))
        table.add_row(*row)
    table.caption = (
        "- : not probed (no shared network, or neither end asked for)"
        "   cut : partitioned and no echo came back"
    )
    table.caption_justify = "left"
    return table
