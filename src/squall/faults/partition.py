"""Who may not talk to whom: partitions as pure functions over service names.

Every function returns a `Partition` (directed cuts); `blocks()` turns it into what
each namespace must drop, given every service's addresses.

Semantics:
- Blockade's `partition A,B C`: named groups plus one more group of everyone not
  named. `holy` services are never partitioned (naming one is an error) and keep
  reaching everyone. `neutral` services not named in any group stay outside every
  group and are reachable from all of them (Blockade instead gives them a group of
  their own; Squall follows the meaning of the word). Named, a neutral service is
  partitioned like any other.
- Cuts drop packets (DROP, as Blockade and Jepsen do): peers see timeouts, the
  common way real partitions look, rather than instant refusals.
- `one_way(A, B)`: A cannot reach B, B still reaches A. Only packets of connections
  A opens are dropped (conntrack original direction), so replies to B's connections
  to A pass.
- Jepsen's shapes (jepsen.nemesis / nemesis.combined) over the services that are
  neither holy nor neutral, in the order given: halves, random-halves, one,
  majority, majorities-ring, bridge, minority-third. Randomness comes only from the
  `random.Random` passed in, so a seed replays a run.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Final, Literal, get_args

from squall.errors import UsageError
from squall.faults.model import Blocks, Cut, Partition

JepsenShape = Literal[
    "halves", "random-halves", "one", "majority", "majorities-ring", "bridge", "minority-third"
]
JEPSEN_SHAPES: Final[tuple[str, ...]] = get_args(JepsenShape)

Grudge = dict[str, set[str]]
"""Jepsen's form: service -> the services it receives nothing from."""


def _check_known(names: Iterable[str], services: Collection[str]) -> None:
    unknown = sorted(set(names) - set(services))
    if unknown:
        raise UsageError(
            f"unknown service {', '.join(unknown)} (services: {', '.join(sorted(services))})"
        )


def _grudge_cuts(grudge: Mapping[str, Collection[str]]) -> tuple[Cut, ...]:
    return tuple(Cut(src, dst) for dst, srcs in grudge.items() for src in srcs if src != dst)


def complete_grudge(components: Sequence[Collection[str]]) -> Grudge:
    """Nobody talks to anybody outside their own component."""
    universe = set().union(*components) if components else set()
    grudge: Grudge = {}
    for component in components:
        for node in component:
            grudge[node] = universe - set(component)
    return grudge


def groups_partition(groups: Sequence[Collection[str]], kind: str = "groups") -> Partition:
    """Cut every pair of services that are in different groups, both ways."""
    grudge = complete_grudge(groups)
    return Partition(
        cuts=_grudge_cuts(grudge),
        groups=tuple(tuple(sorted(g)) for g in groups if g),
        kind=kind,
    )


def blockade_partition(
    groups: Sequence[Collection[str]],
    services: Sequence[str],
    holy: Collection[str] = (),
    neutral: Collection[str] = (),
) -> Partition:
    """`squall partition A,B C`: the named groups and one more of the rest.

    Raises:
        UsageError: an unknown or holy service is named, or one is named twice.
    """
    named: list[str] = [s for g in groups for s in g]
    _check_known(named, services)
    holy_named = sorted(set(named) & set(holy))
    if holy_named:
        raise UsageError(f"holy services are never partitioned: {', '.join(holy_named)}")
    twice = sorted({s for s in named if named.count(s) > 1})
    if twice:
        raise UsageError(f"a service can be in one group only: {', '.join(twice)}")
    rest = [s for s in services if s not in named and s not in holy and s not in neutral]
    all_groups = [list(g) for g in groups if g]
    if rest:
        all_groups.append(rest)
    if len(all_groups) < 2:
        return Partition(groups=tuple(tuple(sorted(g)) for g in all_groups), kind="groups")
    return groups_partition(all_groups)


def random_partition(
    services: Sequence[str],
    rng: random.Random,
    holy: Collection[str] = (),
    neutral: Collection[str] = (),
) -> Partition:
    """Blockade's `--random`: a random number of groups (1 means no partition)."""
    pool = [s for s in services if s not in holy and s not in neutral]
    if not pool:
        return Partition(kind="random")
    count = rng.randint(1, len(pool))
    if count <= 1:
        return Partition(kind="random")
    rng.shuffle(pool)
    groups: list[list[str]] = [[pool.pop()] for _ in range(count)]
    for service in pool:
        groups[rng.randrange(count)].append(service)
    return groups_partition(groups, kind="random")


def isolate(
    service: str,
    services: Sequence[str],
    holy: Collection[str] = (),
    neutral: Collection[str] = (),
) -> Partition:
    """`squall isolate SERVICE`: it alone on one side, everyone else on the other.

    Holy and neutral services keep reaching it: holy ones by definition, neutral
    ones because they are reachable from every group.
    """
    partition = blockade_partition([[service]], services, holy, neutral)
    return Partition(cuts=partition.cuts, groups=partition.groups, kind="isolate")


def one_way(
    pairs: Sequence[tuple[str, str]], services: Sequence[str], holy: Collection[str] = ()
) -> Partition:
    """`--one-way A B`: A cannot reach B; B still reaches A and gets its replies."""
    names = [n for pair in pairs for n in pair]
    _check_known(names, services)
    holy_named = sorted(set(names) & set(holy))
    if holy_named:
        raise UsageError(f"holy services are never partitioned: {', '.join(holy_named)}")
    for src, dst in pairs:
        if src == dst:
            raise UsageError(f"--one-way {src} {dst}: a service always reaches itself")
    return Partition(cuts=tuple(Cut(a, b, one_way=True) for a, b in pairs), kind="one-way")


def bisect(nodes: Sequence[str]) -> tuple[list[str], list[str]]:
    """Cut in half, smaller half first (Jepsen's `bisect`)."""
    half = len(nodes) // 2
    return list(nodes[:half]), list(nodes[half:])


def bridge_grudge(nodes: Sequence[str]) -> Grudge:
    """Halves, but the first node of the second half talks to both sides."""
    left, right = bisect(nodes)
    grudge = complete_grudge([left, right])
    if not right:
        return grudge
    middle = right[0]
    grudge.pop(middle, None)
    return {node: others - {middle} for node, others in grudge.items()}


def majorities_ring(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """Every node sees a majority, no two the same one (exact ring up to 5 nodes)."""
    if len(nodes) <= 5:
        return _majorities_ring_perfect(nodes, rng)
    return _majorities_ring_stochastic(nodes, rng)


def _majority(n: int) -> int:
    return n // 2 + 1


def _majorities_ring_perfect(nodes: Sequence[str], rng: random.Random) -> Grudge:
    universe = set(nodes)
    n = len(nodes)
    m = _majority(n)
    ring = list(nodes)
    rng.shuffle(ring)
    grudge: Grudge = {}
    for i in range(n):
        window = [ring[(i + k) % n] for k in range(m)]
        grudge[window[len(window) // 2]] = universe - set(window)
    return grudge


def _majorities_ring_stochastic(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """Link least-connected nodes until each one sees a majority (itself included)."""
    m = _majority(len(nodes))
    conns: dict[str, set[str]] = {node: {node} for node in nodes}
    while True:
        order = list(nodes)
        rng.shuffle(order)
        order.sort(key=lambda node: len(conns[node]))
        a = order[0]
        if len(conns[a]) >= m:
            break
        b = next(node for node in order if node not in conns[a])
        conns[a].add(b)
        conns[b].add(a)
    universe = set(nodes)
    return {node: universe - conns[node] for node in nodes}


def jepsen(
    shape: str,
    services: Sequence[str],
    rng: random.Random,
    holy: Collection[str] = (),
    neutral: Collection[str] = (),
) -> Partition:
    """Jepsen's partition shapes over the services that are neither holy nor neutral.

    Raises:
        UsageError: an unknown shape name.
    """
    nodes = [s for s in services if s not in holy and s not in neutral]
    kind = f"jepsen:{shape}"
    if shape == "halves":
        return groups_partition([g for g in bisect(nodes) if g], kind)
    if shape in ("random-halves", "majority"):
        shuffled = list(nodes)
        rng.shuffle(shuffled)
        return groups_partition([g for g in bisect(shuffled) if g], kind)
    if shape == "one":
        if not nodes:
            return Partition(kind=kind)
        loner = rng.choice(nodes)
        return groups_partition([[loner], [n for n in nodes if n != loner]], kind)
    if shape == "minority-third":
        shuffled = list(nodes)
        rng.shuffle(shuffled)
        k = (len(nodes) - 1) // 3 if nodes else 0
        return groups_partition([g for g in (shuffled[:k], shuffled[k:]) if g], kind)
    if shape == "majorities-ring":
        return Partition(cuts=_grudge_cuts(majorities_ring(nodes, rng)), kind=kind)
    if shape == "bridge":
        return Partition(cuts=_grudge_cuts(bridge_grudge(nodes)), kind=kind)
    raise UsageError(f"--shape {shape}: use one of {', '.join(JEPSEN_SHAPES)}")


def reachable(partition: Partition, src: str, dst: str) -> bool:
    """Can `src` open a connection to `dst` under `partition`?"""
    return not any(c.src == src and c.dst == dst for c in partition.cuts)


def blocks(partition: Partition, addresses: Mapping[str, Sequence[str]]) -> dict[str, Blocks]:
    """What each service's namespace must drop: its peers' addresses, on ingress.

    A cut src -> dst is enforced where the packet arrives (dst's INPUT): the sender's
    packets leave and vanish, so it sees timeouts and "100% packet loss", as across a
    real partition (and as under Blockade). A drop on the sender's own OUTPUT would
    instead fail its `sendto` at once with EPERM, which no real network does.

    Raises:
        UsageError: a service in a cut has no known address.
    """
    ingress: dict[str, set[str]] = {s: set() for s in addresses}
    ingress_new: dict[str, set[str]] = {s: set() for s in addresses}
    for cut in partition.cuts:
        for name in (cut.src, cut.dst):
            if not addresses.get(name):
                raise UsageError(f"service {name} has no address to partition (is it running?)")
        into = ingress_new if cut.one_way else ingress
        into[cut.dst].update(_host(a) for a in addresses[cut.src])
    return {
        service: Blocks(
            ingress=tuple(ingress[service]),
            ingress_originated=tuple(ingress_new[service] - ingress[service]),
        )
        for service in addresses
    }


def _host(address: str) -> str:
    """A service address, with or without its prefix (`10.0.0.2/24`), as `/32`."""
    try:
        return f"{ipaddress.ip_interface(address).ip}/32"
    except ValueError as exc:
        raise UsageError(f"not an address: {address}") from exc


def partition_numbers(partition: Partition, services: Sequence[str]) -> dict[str, int | None]:
    """Blockade's `partition` field: which side of the partition in force each service is.

    Groups are numbered 1, 2... in their order; a partition without groups (one-way,
    Jepsen's rings and bridges) numbers together the services cut off from the same
    peers, both ways, in the order of `services`. A service no cut touches: None.
    """
    touched = {s for c in partition.cuts for s in (c.src, c.dst)}
    if partition.groups:
        numbers = {s: i for i, group in enumerate(partition.groups, 1) for s in group}
        return {s: numbers.get(s) if s in touched else None for s in services}
    sides: dict[tuple[frozenset[str], frozenset[str]], int] = {}
    found: dict[str, int | None] = {}
    for service in services:
        if service not in touched:
            found[service] = None
            continue
        side = (
            frozenset(c.dst for c in partition.cuts if c.src == service),
            frozenset(c.src for c in partition.cuts if c.dst == service),
        )
        found[service] = sides.setdefault(side, len(sides) + 1)
    return found


GROUP_NAMES = 10
"""Groups of more names than this are summarised in lines for people (`--json` and the
event log keep every name)."""
GROUP_SHOWN = 3


def group_text(names: Sequence[str]) -> str:
    """`a,b,c`, or `s0,s1,s2 +997 others` for a group of more than `GROUP_NAMES`."""
    if len(names) <= GROUP_NAMES:
        return ",".join(names)
    return ",".join(names[:GROUP_SHOWN]) + f" +{len(names) - GROUP_SHOWN} others"


def describe_partition(cut: Partition) -> str:
    """One line for people: `partition (groups): a,b | c`, or the cuts as arrows; large
    groups and long lists of cuts summarised (`group_text`)."""
    if not cut:
        return "no partition: every service reaches every other"
    if cut.groups:
        return f"partition ({cut.kind}): " + " | ".join(group_text(g) for g in cut.groups)
    arrows = [f"{c.src}-/->{c.dst}" for c in cut.cuts]
    if len(arrows) > GROUP_NAMES:
        arrows = [*arrows[:GROUP_SHOWN], f"+{len(arrows) - GROUP_SHOWN} other cuts"]
    return f"partition ({cut.kind}): {', '.join(arrows)}"


__all__ = [
    "JEPSEN_SHAPES",
    "Grudge",
    "JepsenShape",
    "bisect",
    "blockade_partition",
    "blocks",
    "bridge_grudge",
    "complete_grudge",
    "describe_partition",
    "group_text",
    "groups_partition",
    "isolate",
    "jepsen",
    "majorities_ring",
    "one_way",
    "partition_numbers",
    "random_partition",
    "reachable",
]
