"""Where a service runs when the cluster spans several hosts.

Two ways to say it, as a Squall user or a Swarm user would: the service's own
`x-squall: {host: h3}`, or Compose's `deploy.placement.constraints` with
`node.hostname == h3`. Other constraints are Swarm's to judge (node labels, roles):
Squall runs plain containers, so they are named in a warning. Whether the host exists
is checked once `-H` flags are in (`hosts.check_hosts`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from squall.errors import Location
from squall.spec.keys import DEPLOY, PLACEMENT, SERVICE_SQUALL
from squall.spec.node import Node

_HOSTNAME = re.compile(r"^\s*node\.hostname\s*==\s*([A-Za-z0-9][A-Za-z0-9_.-]*)\s*$")


def host_of(
    node: Node, entries: Mapping[str, Node], warnings: list[str]
) -> tuple[str | None, Location | None]:
    """The host a service names (and where), or (None, None).

    Raises:
        SpecError: a wrong type, or the two ways naming different hosts.
    """
    own = node.mapping().get("x-squall")
    mine: tuple[str, Location] | None = None
    if own is not None:
        block = SERVICE_SQUALL.entries(own, warnings)
        if "host" in block:
            mine = (block["host"].text(), block["host"].location)
    constrained = _constrained(entries, warnings)
    if mine and constrained and mine[0] != constrained[0]:
        raise_at = own if own is not None else node
        raise_at.fail(
            f"x-squall.host {mine[0]!r} and the placement constraint "
            f"'node.hostname == {constrained[0]}' name different hosts"
        )
    chosen = mine or constrained
    return (chosen[0], chosen[1]) if chosen else (None, None)


def _constrained(entries: Mapping[str, Node], warnings: list[str]) -> tuple[str, Location] | None:
    if "deploy" not in entries:
        return None
    deploy = DEPLOY.entries(entries["deploy"], [])
    if "placement" not in deploy:
        return None
    placement = PLACEMENT.entries(deploy["placement"], warnings)
    if "constraints" not in placement:
        return None
    found: tuple[str, Location] | None = None
    for item in placement["constraints"].text_or_texts():
        match = _HOSTNAME.match(item.text())
        if match is None:
            warnings.append(
                item.warning("constraint not acted on by squall (only node.hostname == NAME)")
            )
        elif found is not None and found[0] != match.group(1):
            item.fail(f"two hostnames: {found[0]!r} and {match.group(1)!r}")
        else:
            found = (match.group(1), item.location)
    return found
