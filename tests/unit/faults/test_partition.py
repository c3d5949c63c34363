"""Partition semantics: Blockade's groups, holy/neutral, one-way, Jepsen's shapes."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from squall.errors import UsageError
from squall.faults.model import Blocks, Cut, Partition
from squall.faults.partition import (
    JEPSEN_SHAPES,
    blockade_partition,
    blocks,
    isolate,
    jepsen,
    majorities_ring,
    one_way,
    random_partition,
    reachable,
)

FIVE = ["n1", "n2", "n3", "n4", "n5"]


def talk(p: Partition, a: str, b: str) -> bool:
    return reachable(p, a, b) and reachable(p, b, a)


def test_named_groups_plus_the_rest() -> None:
    p = blockade_partition([["a", "b"], ["c"]], ["a", "b", "c", "d", "e"])
    assert p.groups == (("a", "b"), ("c",), ("d", "e"))
    assert talk(p, "a", "b") and talk(p, "d", "e")
    for x, y in [("a", "c"), ("a", "d"), ("c", "e"), ("b", "d")]:
        assert not reachable(p, x, y) and not reachable(p, y, x)


def test_one_named_group_splits_from_the_rest() -> None:
    p = blockade_partition([["a"]], ["a", "b", "c"])
    assert p.groups == (("a",), ("b", "c"))
    assert not talk(p, "a", "b") and talk(p, "b", "c")


def test_everyone_named_in_one_group_is_no_partition() -> None:
    assert not blockade_partition([["a", "b"]], ["a", "b"])


def test_holy_services_cannot_be_named_and_reach_everyone() -> None:
    services = ["a", "b", "c", "h"]
    with pytest.raises(UsageError, match="holy services are never partitioned: h"):
        blockade_partition([["a", "h"]], services, holy={"h"})
    p = blockade_partition([["a"]], services, holy={"h"})
    assert p.groups == (("a",), ("b", "c"))
    for s in "abc":
        assert talk(p, "h", s)


def test_neutral_services_are_reachable_from_every_group() -> None:
    p = blockade_partition([["a"], ["b"]], ["a", "b", "c", "n"], neutral={"n"})
    assert p.groups == (("a",), ("b",), ("c",))
    for s in "abc":
        assert talk(p, s, "n")
    # named, a neutral service is partitioned like any other
    q = blockade_partition([["a", "n"]], ["a", "b", "n"], neutral={"n"})
    assert not talk(q, "n", "b") and talk(q, "n", "a")


def test_unknown_and_doubly_named_services() -> None:
    with pytest.raises(UsageError, match=r"^unknown service zz \(services: a, b\)$"):
        blockade_partition([["zz"]], ["a", "b"])
    with pytest.raises(UsageError, match="one group only: a"):
        blockade_partition([["a"], ["a", "b"]], ["a", "b", "c"])


def test_isolate() -> None:
    p = isolate("db", ["api", "cache", "db", "mon"], holy={"mon"})
    assert p.kind == "isolate"
    assert not talk(p, "db", "api") and not talk(p, "db", "cache")
    assert talk(p, "api", "cache") and talk(p, "db", "mon")


def test_one_way_blocks_exactly_one_direction() -> None:
    p = one_way([("api", "db")], ["api", "db", "web"])
    assert p.cuts == (Cut("api", "db", one_way=True),)
    assert not reachable(p, "api", "db")
    assert reachable(p, "db", "api")
    with pytest.raises(UsageError, match="reaches itself"):
        one_way([("api", "api")], ["api"])


def test_random_partition_is_seeded_and_never_touches_holy() -> None:
    services = ["a", "b", "c", "d", "e", "f"]
    first = random_partition(services, random.Random(7), holy={"f"})
    assert first == random_partition(services, random.Random(7), holy={"f"})
    seen_split = False
    for seed in range(50):
        p = random_partition(services, random.Random(seed), holy={"f"})
        assert all("f" not in (c.src, c.dst) for c in p.cuts)
        assert sorted(s for g in p.groups for s in g) == (["a", "b", "c", "d", "e"] if p else [])
        seen_split |= bool(p)
    assert seen_split


def _groups_of(p: Partition, nodes: list[str]) -> list[set[str]]:
    """Connected components of "talks both ways"; asserts they are cliques."""
    comps: list[set[str]] = []
    for n in nodes:
        for comp in comps:
            if talk(p, n, next(iter(comp))):
                comp.add(n)
                break
        else:
            comps.append({n})
    for comp in comps:
        for a, b in itertools.combinations(comp, 2):
            assert talk(p, a, b)
    return comps


def test_jepsen_halves_smaller_half_first_in_order() -> None:
    p = jepsen("halves", FIVE, random.Random(1))
    assert p.groups == (("n1", "n2"), ("n3", "n4", "n5"))
    assert sorted(map(len, _groups_of(p, FIVE))) == [2, 3]


@pytest.mark.parametrize("shape", ["random-halves", "majority"])
def test_jepsen_random_halves_and_majority(shape: str) -> None:
    p = jepsen(shape, FIVE, random.Random(3))
    assert sorted(map(len, _groups_of(p, FIVE))) == [2, 3]
    assert p == jepsen(shape, FIVE, random.Random(3))


def test_jepsen_one_isolates_a_single_node() -> None:
    p = jepsen("one", FIVE, random.Random(5))
    assert sorted(map(len, _groups_of(p, FIVE))) == [1, 4]


@pytest.mark.parametrize(("n", "k"), [(3, 0), (4, 1), (7, 2), (10, 3)])
def test_jepsen_minority_third(n: int, k: int) -> None:
    nodes = [f"n{i}" for i in range(n)]
    p = jepsen("minority-third", nodes, random.Random(2))
    sizes = sorted(map(len, _groups_of(p, nodes)))
    assert sizes == ([n] if k == 0 else [k, n - k])


def test_jepsen_bridge_keeps_one_node_talking_to_both_halves() -> None:
    p = jepsen("bridge", FIVE, random.Random(0))
    # halves n1,n2 | n3,n4,n5 with n3 the bridge
    for other in FIVE:
        assert talk(p, "n3", other)
    assert not talk(p, "n1", "n4") and not talk(p, "n2", "n5")
    assert talk(p, "n1", "n2") and talk(p, "n4", "n5")


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7, 9])
def test_jepsen_majorities_ring_every_node_sees_a_distinct_majority(n: int) -> None:
    nodes = [f"n{i}" for i in range(n)]
    for seed in range(5):
        grudge = majorities_ring(nodes, random.Random(seed))
        majority = n // 2 + 1
        seen = {node: frozenset(set(nodes) - grudge[node]) for node in nodes}
        for node, view in seen.items():
            assert node in view
            assert len(view) >= majority
        if n in (4, 5):  # the exact ring: all majorities differ
            assert len(set(seen.values())) == n
        p = jepsen("majorities-ring", nodes, random.Random(seed))
        assert p.kind == "jepsen:majorities-ring"


def test_jepsen_excludes_holy_and_neutral() -> None:
    p = jepsen("halves", ["a", "b", "c", "h", "n"], random.Random(0), holy={"h"}, neutral={"n"})
    assert p.groups == (("a",), ("b", "c"))
    assert talk(p, "h", "a") and talk(p, "n", "b")


def test_jepsen_unknown_shape() -> None:
    with pytest.raises(UsageError, match="--shape ring: use one of halves"):
        jepsen("ring", FIVE, random.Random(0))
    assert set(JEPSEN_SHAPES) == {
        "halves",
        "random-halves",
        "one",
        "majority",
        "majorities-ring",
        "bridge",
        "minority-third",
    }


def test_blocks_are_enforced_where_packets_arrive() -> None:
    addresses = {"api": ["10.0.0.2", "10.1.0.2/24"], "db": ["10.0.0.3"], "web": ["10.0.0.4"]}
    p = blockade_partition([["api"]], ["api", "db", "web"])
    b = blocks(p, addresses)
    assert b["api"] == Blocks(ingress=("10.0.0.3", "10.0.0.4"))
    assert b["db"] == Blocks(ingress=("10.0.0.2", "10.1.0.2"))
    ow = blocks(one_way([("api", "db")], ["api", "db", "web"]), addresses)
    assert not ow["api"]
    assert ow["db"] == Blocks(ingress_originated=("10.0.0.2", "10.1.0.2"))
    assert not ow["web"]


def test_blocks_need_addresses() -> None:
    p = blockade_partition([["api"]], ["api", "db"])
    with pytest.raises(UsageError, match="service db has no address"):
        blocks(p, {"api": ["10.0.0.2"], "db": []})


@given(
    st.lists(st.sampled_from("abcdefgh"), min_size=2, max_size=8, unique=True),
    st.integers(min_value=0, max_value=2**32),
    st.sampled_from(JEPSEN_SHAPES),
)
def test_no_shape_ever_cuts_holy_or_neutral(nodes: list[str], seed: int, shape: str) -> None:
    holy, neutral = {nodes[0]}, {nodes[1]}
    p = jepsen(shape, nodes, random.Random(seed), holy=holy, neutral=neutral)
    touched = {c.src for c in p.cuts} | {c.dst for c in p.cuts}
    assert not touched & (holy | neutral)
    assert all(c.src != c.dst for c in p.cuts)


def test_partition_numbers_follow_the_groups_or_what_each_service_can_reach() -> None:
    from squall.faults.model import Partition
    from squall.faults.partition import (
        blockade_partition,
        jepsen,
        one_way,
        partition_numbers,
    )

    services = ["a", "b", "c", "mon"]
    groups = blockade_partition([["c"]], services, neutral=["mon"])
    assert partition_numbers(groups, services) == {"a": 2, "b": 2, "c": 1, "mon": None}
    assert partition_numbers(Partition(), services) == dict.fromkeys(services)
    ring = jepsen("majorities-ring", ["a", "b", "c", "d", "e"], random.Random(3))
    numbers = partition_numbers(ring, ["a", "b", "c", "d", "e"])
    assert all(n is not None for n in numbers.values()) and len(set(numbers.values())) == 5
    arrow = one_way([("a", "b")], services)
    assert partition_numbers(arrow, services) == {"a": 1, "b": 2, "c": None, "mon": None}
