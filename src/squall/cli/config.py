"""`squall config`: what Squall will run, in Compose's own shape (`docker compose config`)."""

from __future__ import annotations

import click

from squall.cli.options import Options, pass_options
from squall.spec.loader import load_project
from squall.spec.model import ClusterSpec
from squall.spec.render import image_name, render, to_json, to_yaml

VIEWS = ("services", "networks", "volumes", "profiles", "images")


def config_text(spec: ClusterSpec, view: str | None, output: str) -> str:
    """The text `squall config` prints: the model, or one name a line for a view."""
    if view == "services":
        lines = [service.name for service in spec.services]
    elif view == "networks":
        lines = [network.name for network in spec.networks]
    elif view == "volumes":
        lines = [volume.name for volume in spec.volumes]
    elif view == "profiles":
        lines = list(spec.profiles)
    elif view == "images":
        lines = [image_name(service, spec.name) for service in spec.services]
    else:
        data = render(spec)
        return to_json(data) + "\n" if output == "json" else to_yaml(data)
    return "".join(f"{line}\n" for line in lines)


@click.command(name="config")
@click.option("--services", "view", flag_value="services", help="Service names, one a line.")
@click.option("--networks", "view", flag_value="networks", help="Network names, one a line.")
@click.option("--volumes", "view", flag_value="volumes", help="Volume names, one a line.")
@click.option("--profiles", "view", flag_value="profiles", help="Every profile services name.")
@click.option("--images", "view", flag_value="images", help="Image of each service, one a line.")
@click.option(
    "--format",
    "output",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
    help="Output format of the model.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only check the files; print nothing.")
@pass_options
def config(options: Options, view: str | None, output: str, quiet: bool) -> None:
    """Check the cluster files and print the model Squall runs, as Compose prints it.

    Every file merged, every variable substituted, profiles and scale applied: diff it
    against `docker compose config`. Warnings go to stderr.
    """
    spec = load_project(options.where.loading())
    for warning in spec.warnings:
        options.say(f"warning: {warning}")
    if not quiet:
        click.echo(config_text(spec, view, output), nl=False)
