"""`squall net`: the cluster's user-defined networks."""

from __future__ import annotations

import click

from squall.cli.options import CONTEXT, Options, pass_options
from squall.cli.render import network_table, to_json
from squall.ops.requests import (
    NetConnectRequest,
    NetCreateRequest,
    NetDisconnectRequest,
    NetRemoveRequest,
)


@click.group(context_settings=CONTEXT)
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
