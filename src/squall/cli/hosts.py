"""`squall hosts ls|check`: the engines of a cluster on several hosts."""

from __future__ import annotations

import dataclasses
import json

import click
from rich.table import Table

from squall.cli.faults import run_and_report
from squall.cli.options import CONTEXT, Options, pass_options
from squall.ops.requests import WanRequest


@click.group(name="hosts", context_settings=CONTEXT)
def hosts() -> None:
    """The Docker Engines of the cluster (`x-squall: hosts`, `-H NAME=URL`)."""


@hosts.command(name="ls")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_options
def list_hosts(options: Options, as_json: bool) -> None:
    """Hosts as the file and -H give them; no engine is contacted."""
    from squall.ops.hosts import cluster_hosts, listed  # the Docker SDK: only when asked

    _project, found = cluster_hosts(options.where)
    rows = [listed(h) for h in found]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(box=None, pad_edge=False)
    for column in ("HOST", "ENGINE", "ADDRESS", "AGENT", "TLS"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["name"]),
            str(row["engine"]),
            str(row["address"] or "-"),
            str(row["agent"]),
            "yes" if row["tls"] else "no",
        )
    options.out.print(table)


@hosts.command(name="check")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_options
def check(options: Options, as_json: bool) -> None:
    """Ask every engine: reachable, version, Swarm state and role, kernel features,
    agent, clock offset to this machine. Exit code 1 when one does not answer."""
    from squall.ops.hosts import check_hosts, cluster_hosts, local_caps

    project, found = cluster_hosts(options.where)
    checks = check_hosts(project, found, local_caps)
    if as_json:
        rows = [
            {**dataclasses.asdict(c.report), "netem": c.netem, "nfqueue": c.nfqueue} for c in checks
        ]
        click.echo(json.dumps(rows, indent=2))
    else:
        table = Table(box=None, pad_edge=False)
        columns = (
            "HOST",
            "REACHABLE",
            "ENGINE",
            "SWARM",
            "KERNEL",
            "NETEM",
            "NFQUEUE",
            "AGENT",
            "CLOCK",
        )
        for column in columns:
            table.add_column(column)
        for c in checks:
            r = c.report
            if not r.reachable:
                table.add_row(r.name, "[red]NO[/]", r.error or "", "", "", "", "", "", "")
                continue
            swarm = f"{r.swarm} ({r.role})" if r.role else str(r.swarm)
            kernel = f"{r.kernel} ({_same(r.same_kernel)})"
            offset = f"{r.clock_offset * 1000:+.0f}ms" if r.clock_offset is not None else "?"
            table.add_row(
                r.name,
                "yes",
                str(r.version),
                swarm,
                kernel,
                _flag(c.netem),
                _flag(c.nfqueue),
                r.agent,
                offset,
            )
        options.out.print(table)
    if any(not c.report.reachable for c in checks):
        raise click.exceptions.Exit(1)


def _same(proved: bool | None) -> str:
    return {True: "this kernel", False: "another kernel", None: "unproved"}[proved]


def _flag(value: bool | None) -> str:
    return "?" if value is None else "yes" if value else "no"


@click.command(context_settings=CONTEXT)
@click.argument("zones", nargs=-1)
@click.option("--rtt", help="Round trip between the two zones (half each way), e.g. 80ms.")
@click.option("--jitter", help="Spread of the round trip, e.g. 5ms.")
@click.option("--loss", help="Packets lost each way, e.g. 0.1%.")
@click.option("--rate", help="Bandwidth each way, e.g. 200mbit.")
@click.option("--clear", is_flag=True, help="Remove every WAN link's shapes.")
@click.option(
    "--dry-run", is_flag=True, help="Print the kernel rules it would set; change nothing."
)
@pass_options
def wan(
    options: Options,
    zones: tuple[str, ...],
    rtt: str | None,
    jitter: str | None,
    loss: str | None,
    rate: str | None,
    clear: bool,
    dry_run: bool,
) -> None:
    """Change one WAN link live between two zones, or remove them all (`--clear`).

    Zones come from the file's `x-squall: zones`; `up` sets the file's `wan:` links.

    \b
    Examples:
      squall wan eu us --rtt 120ms --jitter 10ms
      squall wan --clear
    """
    run_and_report(options, WanRequest(zones, rtt, jitter, loss, rate, clear, dry_run))
