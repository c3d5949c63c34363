"""`squall serve`: the HTTP API and the live dashboard for one cluster."""

from __future__ import annotations

from pathlib import Path

import click

from squall.cli.options import CONTEXT, Options, pass_options
from squall.ops.opening import Where


@click.command(context_settings=CONTEXT)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback needs --token-file.",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=7007, show_default=True, help="0: any."
)
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where the API token lives (created, mode 0600, if missing)."
    " Default: api-token in the cluster's state directory.",
)
@pass_options
def serve(options: Options, host: str, port: int, token_file: Path | None) -> None:
    """HTTP API and live dashboard: topology, faults, events, controls.

    \b
    Examples:
      squall serve                          http://127.0.0.1:7007/?token=...
      squall -p demo serve --port 0         any free port (printed)
      curl -H "Authorization: Bearer $(cat ~/.local/state/squall/demo/api-token)" \\
           -X PUT -d '{"groups": [["a"], ["b"]]}' \\
           http://127.0.0.1:7007/api/clusters/demo/partition
    Every change needs the token; reads are open on loopback. The API's description
    is at /openapi.json; Blockade's REST routes answer under /blockade.
    """
    # Imported here: the web stack costs every other command its start-up time.
    from squall import api
    from squall.state import StateDir, default_state_root

    api.check_bind(host, token_file)
    root = default_state_root()
    ops = options.ops()
    project = ops.project
    token = api.load_or_create_token(
        token_file if token_file is not None else StateDir(root, project).ensure() / api.TOKEN_FILE
    )
    file = options.file.resolve() if options.file is not None else None
    where = Where(file=file, project=project, backend=options.backend_name, state_root=root)
    context = api.ApiContext(where, ops.session.backend)
    loopback = api.is_loopback(host)
    policy = api.AuthPolicy(token, reads_need_token=not loopback)
    allowed = ("127.0.0.1", "localhost", "::1") if loopback else None
    app = api.create_app(context, policy, allowed_hosts=allowed)
    sock = api.bind(host, port)
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{bound_port}"
    options.say(f"squall serve: cluster {project!r} on {base}  (Ctrl-C stops)")
    options.say(f"  API: {base}/api/clusters/{project}  ·  OpenAPI: {base}/openapi.json")
    options.say("  dashboard (the token is in the URL; keep it to yourself):")
    click.echo(f"{base}/?token={token}")
    try:
        api.serve(app, sock)
    finally:
        sock.close()


__all__ = ["serve"]
