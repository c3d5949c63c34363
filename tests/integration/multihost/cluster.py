"""A cluster file over the test engines, and what is left of a project on each engine."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

from tests.integration.cli_runner import SquallRunner
from tests.integration.multihost.engines import Engines

_TIME = re.compile(r"time=([0-9.]+) ms")
SERVE = '["httpd", "-f", "-p", "8080", "-h", "/etc"]'


def write_file(
    folder: Path,
    engines: Engines,
    *,
    agent: str = "auto",
    extra_hosts: str = "",
    services: str | None = None,
    squall: str = "",
    unix: bool = False,
) -> Path:
    """Three services, one pinned to each host (two ways), serving /etc over HTTP.

    Engines are given by their TCP address, or with `unix` by their socket on this
    machine (the only engines whose containers Squall may enter directly)."""
    hosts = "".join(
        f'    {e.name}: {{engine: "{e.unix_url if unix else e.url}", agent: {agent}}}\n'
        for e in engines.engines
    )
    body = services or (
        "services:\n"
        f"  a: {{image: squall/busybox, command: {SERVE}, x-squall: {{host: h1}}}}\n"
        f"  b: {{image: squall/busybox, command: {SERVE}, x-squall: {{host: h2}}}}\n"
        f"  c:\n    image: squall/busybox\n    command: {SERVE}\n"
        "    deploy: {placement: {constraints: ['node.hostname == h3']}}\n"
    )
    path = folder / "compose.yaml"
    path.write_text("x-squall:\n  hosts:\n" + hosts + extra_hosts + squall + body)
    return path


def leftovers(engines: Engines, project: str) -> dict[str, list[str]]:
    """Containers and networks labelled with `project` on each engine (empty: clean)."""
    found: dict[str, list[str]] = {}
    for engine in engines.engines:
        client = engine.client()
        label = {"label": [f"io.squall.project={project}"]}
        names = [c["Names"][0] for c in client.containers(all=True, filters=label)]
        names += [n["Name"] for n in client.networks(filters=label)]
        client.close()
        if names:
            found[engine.name] = names
    return found


def swarm_states(engines: Engines) -> list[str]:
    states = []
    for engine in engines.engines:
        client = engine.client()
        states.append(str(client.info()["Swarm"]["LocalNodeState"]))
        client.close()
    return states


def agents(engines: Engines, project: str) -> list[str]:
    """The hosts where an agent of `project` runs (or is left)."""
    found = []
    for engine in engines.engines:
        client = engine.client()
        if client.containers(all=True, filters={"label": [f"io.squall.agent={project}"]}):
            found.append(engine.name)
        client.close()
    return found


def median_rtt(squall: SquallRunner, source: str, target: str, count: int = 10) -> float:
    """Ping's median round trip, in ms, from inside `source` (at least half answered)."""
    out = squall("exec", source, "--", "ping", "-c", str(count), "-i", "0.2", target).stdout
    times = [float(t) for t in _TIME.findall(out)]
    assert len(times) >= count // 2, out
    return statistics.median(times)


def reaches(squall: SquallRunner, source: str, target: str) -> bool:
    """One ping from inside `source` gets its answer."""
    result = squall("exec", source, "--", "ping", "-c", "1", "-W", "1", target, check=False)
    return result.returncode == 0
