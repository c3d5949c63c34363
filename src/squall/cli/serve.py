"""`squall serve`: the HTTP API and the live dashboard for one cluster."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from squall.cli.options import CONTEXT, Options, pass_options


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
    " Default: api-token in the state directory (the server's, not a cluster's).",
)
@click.option(
    "--every-cluster",
    is_flag=True,
    help="Serve every cluster in the state directory, as Blockade's daemon served every"
    " blockade; POST /blockade/NAME with a body creates one.",
)
@click.option(
    "--blockade-compat",
    is_flag=True,
    help="Blockade's clients send no token: let changes through /blockade in without one."
    " Loopback only; every other route still needs the token.",
)
@pass_options
def serve(
    options: Options,
    host: str,
    port: int,
    token_file: Path | None,
    every_cluster: bool,
    blockade_compat: bool,
) -> None:
    """HTTP API and live dashboard: topology, faults, events, controls.

    \b
    Examples:
      squall serve                          http://127.0.0.1:7007/?token=...
      squall -p demo serve --port 0         any free port (printed)
      squall serve --every-cluster --blockade-compat   a stand-in for `blockade daemon`
      curl -H "Authorization: Bearer $(cat ~/.local/state/squall/api-token)" \\
           -X PUT -d '{"groups": [["a"], ["b"]]}' \\
           http://127.0.0.1:7007/api/clusters/demo/partition
    Every change needs the token; reads are open on loopback. The API's description
    is at /openapi.json; Blockade's REST routes answer under /blockade.
    """
    # Imported here: the web stack costs every other command its start-up time.
    from squall import api
    from squall.errors import SpecError
    from squall.ops.opening import open_backend
    from squall.state import default_state_root

    api.check_bind(host, token_file, blockade_compat=blockade_compat)
    root = default_state_root()
    project: str | None = None
    try:
        ops = options.ops()
        project, backend = ops.project, ops.session.backend
    except SpecError:
        if not every_cluster or options.files or options.project is not None:
            raise
        backend = open_backend(options.backend_name, None, log=options.kernel_log())
    token_path = token_file if token_file is not None else api.server_token_file(root)
    token = api.load_or_create_token(token_path)
    where = dataclasses.replace(
        options.where,
        files=tuple(f.resolve() for f in options.files),
        project=project,
        state_root=root,
    )
    context = api.ApiContext(where, backend, every_cluster=every_cluster)
    loopback = api.is_loopback(host)
    policy = api.AuthPolicy(
        token,
        reads_need_token=not loopback,
        token_file=token_path.resolve(),
        blockade_compat=blockade_compat,
    )
    allowed = ("127.0.0.1", "localhost", "::1") if loopback else None
    app = api.create_app(context, policy, allowed_hosts=allowed)
    sock = api.bind(host, port)
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{bound_port}"
    served = f"cluster {project!r}" if project is not None else "no cluster named"
    if every_cluster:
        served += f", and every cluster in {root}"
    options.say(f"squall serve: {served} on {base}  (Ctrl-C stops)")
    if project is not None:
        options.say(f"  API: {base}/api/clusters/{project}  ·  OpenAPI: {base}/openapi.json")
    if blockade_compat:
        options.say(
            f"warning: --blockade-compat: changes through {base}/blockade need no token;"
            " any program on this machine can make them"
        )
    options.say(f"  the token is in {token_path}; the dashboard (keep its URL to yourself):")
    click.echo(f"{base}/?token={token}")
    try:
        api.serve(app, sock)
    finally:
        sock.close()


__all__ = ["serve"]
