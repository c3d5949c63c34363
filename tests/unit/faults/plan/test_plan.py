"""plan(): desired faults -> exact kernel operations, for kernels with and without netem."""

from __future__ import annotations

import shlex
from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from squall.errors import FaultError, FaultUnsupported
from squall.faults.model import Blocks, NamespaceFaults, PortRange, Selector, Shape, parse_ports
from squall.faults.plan import (
    QUEUE_BASE,
    Interface,
    KernelCaps,
    KernelPlan,
    chain_name,
    ifb_name,
    netem_args,
    plan,
    port_masks,
)
from squall.faults.shaper_config import NamespaceQueues, QueueSpec
from squall.units import parse_duration, parse_percent, parse_rate

NETEM = KernelCaps(netem=True)
NO_NETEM = KernelCaps(netem=False, police=False)
ETH0 = Interface("eth0", ("10.0.1.2/24",))
ETH1 = Interface("eth1", ("10.0.2.2/24",), default_route=True)
C = '-m comment --comment "squall:demo"'


def faults(*shapes: Shape, blocks: Blocks | None = None) -> NamespaceFaults:
    return NamespaceFaults(
        tag="demo",
        netns="/proc/7/ns/net",
        label="demo/api",
        shapes=shapes,
        blocks=blocks or Blocks(),
    )


def tc_lines(p: KernelPlan) -> list[str]:
    return [shlex.join(argv) for argv in p.tc]


def test_partition_only_is_iptables_drops_in_own_chains() -> None:
    p = plan(
        faults(
            blocks=Blocks(
                egress=("10.0.1.3",), ingress=("10.0.1.3",), egress_originated=("10.0.2.9",)
            )
        ),
        [ETH0, ETH1],
        NO_NETEM,
    )
    assert (
        p.restore_text()
        == "\n".join(
            [
                "*filter",
                ":SQUALL-demo-IN - [0:0]",
                ":SQUALL-demo-OUT - [0:0]",
                f"-A SQUALL-demo-IN -s 10.0.1.3/32 {C} -j DROP",
                f"-A SQUALL-demo-OUT -d 10.0.1.3/32 {C} -j DROP",
                f"-A SQUALL-demo-OUT -d 10.0.2.9/32 -m conntrack --ctdir ORIGINAL {C} -j DROP",
                f"-I INPUT 1 {C} -j SQUALL-demo-IN",
                f"-I OUTPUT 1 {C} -j SQUALL-demo-OUT",
                "COMMIT",
            ]
        )
        + "\n"
    )
    assert p.tc == () and p.links == () and p.queues is None
    # the same with netem: partitions never use tc
    assert plan(faults(blocks=Blocks(egress=("10.0.1.3",))), [ETH0], NETEM).tc == ()


def test_delay_without_netem_goes_to_a_queue_for_the_shaper() -> None:
    shape = Shape(
        delay=parse_duration("100ms"),
        jitter=parse_duration("10ms"),
        distribution="normal",
        correlation=parse_percent("25%"),
        duplicate=parse_percent("1%"),
        corrupt=parse_percent("0.1%"),
        reorder=parse_percent("5%"),
        selector=Selector(peers=("10.0.1.3",), ports=parse_ports("5432"), proto="tcp"),
    )
    p = plan(faults(shape), [ETH0, ETH1], NO_NETEM)
    assert [r.line() for r in p.rules] == [
        f"-A SQUALL-demo-OUT -m mark --mark 0x53510000/0xffff0000 {C} -j RETURN",
        f"-A SQUALL-demo-OUT -d 10.0.1.3/32 -p tcp -m multiport --dports 5432 {C} "
        f"-j NFQUEUE --queue-num {QUEUE_BASE} --queue-bypass",
    ]
    assert p.queues == NamespaceQueues(
        netns="/proc/7/ns/net",
        label="demo/api",
        queues=(
            QueueSpec(
                num=QUEUE_BASE,
                mode="egress",
                delay=0.1,
                jitter=0.01,
                distribution="normal",
                correlation=0.25,
                duplicate=0.01,
                corrupt=0.001,
                reorder=0.05,
            ),
        ),
    )
    assert p.tc == ()


def test_delay_with_netem_is_an_htb_class_with_a_netem_child_on_the_peers_interface() -> None:
    shape = Shape(
        delay=parse_duration("100ms"),
        jitter=parse_duration("10ms"),
        distribution="normal",
        loss=parse_percent("20%"),
        loss_correlation=parse_percent("25%"),
        selector=Selector(peers=("10.0.1.3",), ports=parse_ports("5432"), proto="tcp"),
    )
    p = plan(faults(shape), [ETH0, ETH1], NETEM)
    assert p.rules == () and p.queues is None
    assert tc_lines(p) == [
        "tc qdisc replace dev eth0 root handle 5351: htb default 0",
        "tc class replace dev eth0 parent 5351: classid 5351:10 htb rate 10gbit ceil 10gbit "
        "quantum 1514",
        "tc qdisc replace dev eth0 parent 5351:10 handle 5410: netem limit 10000 "
        "delay 100ms 10ms distribution normal loss random 20% 25%",
        "tc filter add dev eth0 parent 5351: protocol ip prio 1 u32 match ip dst 10.0.1.3/32 "
        "match ip protocol 6 0xff match ip dport 5432 0xffff flowid 5351:10",
    ]
    assert p.root_devices == ("eth0",)


def test_plain_loss_without_netem_is_iptables_statistic_per_interface() -> None:
    p = plan(faults(Shape(loss=parse_percent("20%"))), [ETH0, ETH1], NO_NETEM)
    assert [r.line() for r in p.rules] == [
        f"-A SQUALL-demo-OUT -o eth0 -m statistic --mode random --probability 0.2 {C} -j DROP",
        f"-A SQUALL-demo-OUT -o eth1 -m statistic --mode random --probability 0.2 {C} -j DROP",
    ]
    assert p.queues is None and p.tc == ()


def test_correlated_loss_without_netem_needs_the_shaper() -> None:
    shape = Shape(loss=parse_percent("20%"), loss_correlation=parse_percent("50%"))
    p = plan(faults(shape), [ETH0], NO_NETEM)
    assert p.queues is not None
    assert p.queues.queues == (
        QueueSpec(num=QUEUE_BASE, mode="egress", loss=0.2, loss_correlation=0.5),
    )
    assert not any("statistic" in r.args for r in p.rules)


def test_rate_is_htb_on_both_paths() -> None:
    shape = Shape(rate=parse_rate("50kbps"), selector=Selector(peers=("10.0.2.7",)))
    expected = [
        "tc qdisc replace dev eth1 root handle 5351: htb default 0",
        "tc class replace dev eth1 parent 5351: classid 5351:10 htb rate 50kbps ceil 50kbps "
        "quantum 1514",
        "tc filter add dev eth1 parent 5351: protocol ip prio 1 u32 match ip dst 10.0.2.7/32 "
        "flowid 5351:10",
    ]
    for caps in (NETEM, NO_NETEM):
        p = plan(faults(shape), [ETH0, ETH1], caps)
        assert tc_lines(p) == expected
        assert p.rules == ()


def test_off_subnet_peer_uses_the_default_route_interface() -> None:
    shape = Shape(rate=parse_rate("1mbit"), selector=Selector(peers=("192.168.5.5",)))
    p = plan(faults(shape), [ETH0, ETH1], NO_NETEM)
    assert p.root_devices == ("eth1",)


def test_ingress_rate_mirrors_to_an_ifb() -> None:
    shape = Shape(rate=parse_rate("10mbit"), selector=Selector(direction="ingress"))
    p = plan(faults(shape), [ETH0], NO_NETEM)
    assert p.links == (
        ("ip", "link", "add", "sq-eth0", "type", "ifb"),
        ("ip", "link", "set", "sq-eth0", "up"),
    )
    assert tc_lines(p) == [
        "tc qdisc replace dev eth0 handle ffff: ingress",
        "tc filter add dev eth0 parent ffff: protocol ip prio 1 u32 match u32 0 0 "
        "action mirred egress redirect dev sq-eth0",
        "tc qdisc replace dev sq-eth0 root handle 5351: htb default 0",
        "tc class replace dev sq-eth0 parent 5351: classid 5351:10 htb rate 10mbit ceil 10mbit "
        "quantum 1514",
        "tc filter add dev sq-eth0 parent 5351: protocol ip prio 1 u32 match u32 0 0 "
        "flowid 5351:10",
    ]
    assert p.ingress_devices == ("eth0",) and p.ifbs == ("sq-eth0",)


def test_ingress_delay_without_netem_queues_in_input_and_matches_source() -> None:
    shape = Shape(
        delay=parse_duration("50ms"), selector=Selector(peers=("10.0.1.3",), direction="ingress")
    )
    p = plan(faults(shape), [ETH0], NO_NETEM)
    assert [r.line() for r in p.rules] == [
        f"-A SQUALL-demo-IN -m mark --mark 0x53510000/0xffff0000 {C} -j RETURN",
        f"-A SQUALL-demo-IN -s 10.0.1.3/32 {C} -j NFQUEUE --queue-num {QUEUE_BASE} --queue-bypass",
    ]
    assert p.queues is not None and p.queues.queues[0].mode == "ingress"


def test_ingress_without_ifb_is_unsupported() -> None:
    shape = Shape(rate=parse_rate("1mbit"), selector=Selector(direction="both"))
    with pytest.raises(FaultUnsupported, match="ingress shaping needs ifb"):
        plan(faults(shape), [ETH0], KernelCaps(netem=False, ifb=False))


def test_no_interface_for_a_peerless_shape() -> None:
    with pytest.raises(FaultError, match="no interface to shape"):
        plan(faults(Shape(loss=parse_percent("1%"))), [], NO_NETEM)


def test_shapes_combine_first_match_wins() -> None:
    narrow = Shape(
        delay=parse_duration("10ms"),
        loss=parse_percent("5%"),
        selector=Selector(peers=("10.0.1.3",)),
    )
    middle = Shape(loss=parse_percent("1%"), selector=Selector(peers=("10.0.1.4",)))
    broad = Shape(loss=parse_percent("50%"), rate=parse_rate("1mbit"))
    p = plan(faults(narrow, middle, broad), [ETH0], NO_NETEM)
    assert [r.line() for r in p.rules] == [
        f"-A SQUALL-demo-OUT -m mark --mark 0x53510000/0xffff0000 {C} -j RETURN",
        f"-A SQUALL-demo-OUT -d 10.0.1.3/32 -m statistic --mode random --probability 0.05 {C} "
        "-j DROP",
        f"-A SQUALL-demo-OUT -d 10.0.1.3/32 {C} -j NFQUEUE --queue-num 5351 --queue-bypass",
        f"-A SQUALL-demo-OUT -d 10.0.1.4/32 -m statistic --mode random --probability 0.01 {C} "
        "-j DROP",
        f"-A SQUALL-demo-OUT -d 10.0.1.4/32 {C} -j RETURN",
        f"-A SQUALL-demo-OUT -o eth0 -m statistic --mode random --probability 0.5 {C} -j DROP",
    ]
    # tc: only the broad shape has a rate; it gets its own class at its own prio
    assert tc_lines(p)[1:] == [
        "tc class replace dev eth0 parent 5351: classid 5351:12 htb rate 1mbit ceil 1mbit "
        "quantum 1514",
        "tc filter add dev eth0 parent 5351: protocol ip prio 3 u32 match u32 0 0 flowid 5351:12",
    ]
    # with netem every shape is a class, filters in shape order
    n = plan(faults(narrow, middle, broad), [ETH0], NETEM)
    prios = [a[a.index("prio") + 1] for a in n.tc if a[1] == "filter"]
    assert prios == ["1", "2", "3"]


def test_ports_without_proto_cover_tcp_and_udp_and_ranges_become_masks() -> None:
    shape = Shape(rate=parse_rate("1mbit"), selector=Selector(ports=parse_ports("8000:8003")))
    p = plan(faults(shape), [ETH0], NO_NETEM)
    filters = [line for line in tc_lines(p) if " filter " in line]
    assert filters == [
        "tc filter add dev eth0 parent 5351: protocol ip prio 1 u32 match ip protocol 6 0xff "
        "match ip dport 8000 0xfffc flowid 5351:10",
        "tc filter add dev eth0 parent 5351: protocol ip prio 1 u32 match ip protocol 17 0xff "
        "match ip dport 8000 0xfffc flowid 5351:10",
    ]


def test_many_ports_are_chunked_for_multiport() -> None:
    ports = ",".join(str(p) for p in range(1000, 1040, 2))  # 20 single ports
    shape = Shape(
        loss=parse_percent("1%"),
        selector=Selector(peers=("10.0.1.3",), ports=parse_ports(ports), proto="udp"),
    )
    p = plan(faults(shape), [ETH0], NO_NETEM)
    lists = [r.args[r.args.index("--dports") + 1] for r in p.rules]
    assert [len(x.split(",")) for x in lists] == [15, 5]


def test_expired_shapes_are_not_planned() -> None:
    shape = Shape(loss=parse_percent("1%"), expires_at=50.0)
    assert plan(faults(shape), [ETH0], NO_NETEM, now=60.0).is_empty
    assert not plan(faults(shape), [ETH0], NO_NETEM, now=40.0).is_empty


def test_netem_args() -> None:
    shape = Shape(
        delay=parse_duration("75ms"),
        jitter=parse_duration("100ms"),
        distribution="uniform",
        duplicate=parse_percent("5%"),
    )
    assert netem_args(shape) == ("delay", "75ms", "100ms", "duplicate", "5%")


def test_render_for_dry_run() -> None:
    shape = Shape(
        delay=parse_duration("100ms"),
        rate=parse_rate("50kbps"),
        selector=Selector(peers=("10.0.1.3",)),
    )
    text = plan(faults(shape), [ETH0], NO_NETEM).render()
    assert text.splitlines()[0] == "# demo/api (tag demo)"
    assert "# iptables-restore --noflush <<EOF" in text
    assert "tc class replace dev eth0 parent 5351: classid 5351:10 htb rate 50kbps" in text
    assert "# shaper: queue 5351 egress delay 100ms" in text
    assert "no faults" in plan(faults(), [ETH0], NO_NETEM).render()


def test_names_fit_kernel_limits() -> None:
    assert chain_name("a" * 16, "POSTROUTING") == "SQUALL-" + "a" * 16 + "-POST"
    assert len(chain_name("a" * 16, "POSTROUTING")) <= 28
    assert ifb_name("eth0") == "sq-eth0"
    long = ifb_name("verylongname123")
    assert len(long) <= 15 and long.startswith("sq-")


@given(st.integers(1, 65535), st.integers(0, 65535))
def test_port_masks_cover_exactly_the_range(first: int, span: int) -> None:
    last = min(65535, first + span)
    blocks = port_masks(PortRange(first, last))
    covered: set[int] = set()
    for value, mask in blocks:
        size = (~mask & 0xFFFF) + 1
        assert value & ~mask & 0xFFFF == 0
        block = set(range(value, value + size))
        assert not covered & block
        covered |= block
    assert covered == set(range(first, last + 1))


_sel = st.builds(
    Selector,
    peers=st.lists(st.sampled_from(["10.0.1.3", "10.0.2.0/24", "172.16.0.1"]), max_size=2).map(
        tuple
    ),
    ports=st.sampled_from(["", "80", "1000:2000,53"]).map(lambda t: parse_ports(t) if t else ()),
    proto=st.sampled_from([None, "tcp", "udp"]),
    direction=st.sampled_from(["egress", "ingress", "both"]),
)
_pct = st.one_of(st.none(), st.integers(1, 99).map(lambda n: parse_percent(f"{n}%")))
_shape = st.builds(
    Shape,
    delay=st.one_of(st.none(), st.just(parse_duration("20ms"))),
    loss=st.just(parse_percent("10%")),
    loss_correlation=_pct,
    rate=st.one_of(st.none(), st.just(parse_rate("1mbit"))),
    duplicate=_pct,
    selector=_sel,
)


@given(
    st.lists(_shape, max_size=4),
    st.booleans(),
    st.lists(st.sampled_from(["10.0.1.9", "10.0.2.9"]), max_size=2),
)
def test_every_planned_rule_is_tagged_and_in_squalls_chains(
    shapes: list[Shape], netem: bool, blocked: list[str]
) -> None:
    p = plan(
        faults(*shapes, blocks=Blocks(egress=tuple(blocked), ingress=tuple(blocked))),
        [ETH0, ETH1],
        KernelCaps(netem=netem),
    )
    for rule in p.rules:
        assert rule.chain.startswith("SQUALL-demo-")
        assert '--comment "squall:demo"' in rule.line()
    chains = {c.name for c in p.chains}
    assert {r.chain for r in p.rules} == chains
    for line in p.restore_text().splitlines():
        if line.startswith(("-A", "-I")):
            assert '--comment "squall:demo"' in line
    for argv in p.tc:
        assert argv[0] == "tc"
        dev = argv[argv.index("dev") + 1]
        assert dev in ("eth0", "eth1", "sq-eth0", "sq-eth1")
    if p.queues:
        assert not netem
        nums = [q.num for q in p.queues.queues]
        assert nums == list(range(QUEUE_BASE, QUEUE_BASE + len(nums)))
        for num in nums:
            assert any(f"--queue-num {num} --queue-bypass" in r.line() for r in p.rules)


def test_a_large_partition_drops_neighbouring_peers_as_a_few_blocks() -> None:
    """500 peers on 10.200.160.2-.243 and 10.200.161.0-...: a handful of rules, the same
    addresses cut, and a lone peer kept as its own /32."""
    peers = [str(IPv4Address("10.200.160.2") + i) for i in range(500)] + ["10.0.9.9"]
    p = plan(faults(blocks=Blocks(egress=tuple(peers))), [ETH0], NO_NETEM)
    drops = [line.split()[3] for line in p.restore_text().splitlines() if "-j DROP" in line]
    assert 2 <= len(drops) <= 20
    covered = {str(a) for d in drops for a in IPv4Network(d)}
    assert covered == set(peers)
