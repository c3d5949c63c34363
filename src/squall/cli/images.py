"""`squall images`: the local base images, built without a registry."""

from __future__ import annotations

import click

from squall.cli.options import CONTEXT, Options, pass_options
from squall.cli.progress import ConsoleProgress


@click.group(context_settings=CONTEXT)
def images() -> None:
    """Local base images for examples and tests, built from Debian packages (no registry)."""


@images.command(name="build")
@click.option("--force", is_flag=True, help="Rebuild images that already exist.")
@pass_options
def images_build(options: Options, force: bool) -> None:
    """Build squall/busybox and squall/debian:bookworm from this host's Debian packages."""
    from squall.images import build_local_images

    with ConsoleProgress(options.err, title="squall images build") as progress:
        built = build_local_images(progress, force=force)
    for tag in built:
        click.echo(tag)
