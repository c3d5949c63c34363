"""The fault model: validation, presets, ordering and JSON round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from squall.errors import UsageError
from squall.faults.model import (
    Blocks,
    Cut,
    NamespaceFaults,
    Partition,
    PortRange,
    Selector,
    Shape,
    make_tag,
    parse_peer,
    parse_ports,
    parse_preset,
)
from squall.spec.model import FaultPresets
from squall.units import parse_duration, parse_percent, parse_rate


def test_blockade_default_presets() -> None:
    presets = FaultPresets()
    slow = parse_preset("slow", presets.slow)
    assert slow.delay == parse_duration("75ms")
    assert slow.jitter == parse_duration("100ms")
    assert slow.distribution == "normal"
    flaky = parse_preset("flaky", presets.flaky)
    assert flaky.loss == parse_percent("30%")
    assert flaky.loss_correlation is None
    dup = parse_preset("duplicate", presets.duplicate)
    assert dup.duplicate == parse_percent("5%")


def test_presets_accept_netem_extras() -> None:
    slow = parse_preset("slow", "100ms 10ms 25% distribution pareto")
    assert slow.correlation == parse_percent("25%")
    assert slow.distribution == "pareto"
    flaky = parse_preset("flaky", "random 10% 25%")
    assert flaky.loss_correlation == parse_percent("25%")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("slow", "soon", "preset slow soon: not a duration (examples: 100ms, 1.5s)"),
        (
            "slow",
            "75ms distribution",
            "preset slow '75ms distribution': 'distribution' needs a name",
        ),
        ("slow", "75ms 1ms distribution gaussian", "--distribution gaussian"),
        ("flaky", "130%", "preset flaky 130%: must be between 0% and 100%"),
        ("duplicate", "1% 2% 3%", "preset duplicate '1% 2% 3%': expected 'PERCENT [CORRELATION]'"),
    ],
)
def test_bad_presets(name: str, text: str, message: str) -> None:
    with pytest.raises(
        UsageError,
        match="^"
        + message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]"),
    ):
        parse_preset(name, text)  # type: ignore[arg-type]


def test_ports_lists_and_ranges_merge() -> None:
    assert parse_ports("80,1000:2000,443") == (
        PortRange(80, 80),
        PortRange(443, 443),
        PortRange(1000, 2000),
    )
    assert parse_ports("1000-1010,1005:1020,1021") == (PortRange(1000, 1021),)
    with pytest.raises(UsageError, match=r"--port 70000: ports are 1\.\.65535"):
        parse_ports("70000")
    with pytest.raises(UsageError, match="--port http: not a port list"):
        parse_ports("http")


def test_peers_are_normalised_cidrs() -> None:
    assert parse_peer("10.0.0.7") == "10.0.0.7/32"
    assert parse_peer("10.0.0.7/24") == "10.0.0.0/24"
    with pytest.raises(UsageError, match=r"^--to 10\.0\.0\.300: not a service, address or CIDR$"):
        parse_peer("10.0.0.300")
    with pytest.raises(UsageError, match="only IPv4"):
        parse_peer("fd00::1")


def test_selector_validation() -> None:
    with pytest.raises(UsageError, match="icmp has no ports"):
        Selector(ports=parse_ports("80"), proto="icmp")
    with pytest.raises(UsageError, match="--direction sideways"):
        Selector(direction="sideways")  # type: ignore[arg-type]
    assert Selector(direction="both").ways == ("egress", "ingress")
    assert Selector(peers=("10.0.0.2", "10.0.0.1")).peers == ("10.0.0.1/32", "10.0.0.2/32")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "nothing to shape"),
        (
            {"jitter": parse_duration("10ms"), "loss": parse_percent("1%")},
            "--jitter: needs --delay",
        ),
        ({"reorder": parse_percent("5%"), "loss": parse_percent("1%")}, "--reorder: needs --delay"),
        (
            {"loss_correlation": parse_percent("5%"), "rate": parse_rate("1mbit")},
            "--loss-correlation: needs --loss",
        ),
    ],
)
def test_shape_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Shape(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("rate", "99999999999999999999tbit", "--rate 99999999999999999999tbit: at most 1000tbit"),
        ("rate", "1001tbit", "--rate 1001tbit: at most 1000tbit"),
        ("rate", "7bit", "--rate 7bit: at least 8bit"),
        ("delay", "61m", "--delay 61m: at most 1h"),
    ],
)
def test_values_tc_cannot_hold_are_refused_naming_the_field(
    field: str, text: str, message: str
) -> None:
    value = parse_rate(text) if field == "rate" else parse_duration(text)
    with pytest.raises(UsageError, match=message):
        Shape(**{field: value})  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="--jitter 2h: at most 1h"):
        Shape(delay=parse_duration("1ms"), jitter=parse_duration("2h"))


def test_limits_themselves_are_accepted() -> None:
    assert str(Shape(rate=parse_rate("1000tbit")).rate) == "1000tbit"
    assert str(Shape(rate=parse_rate("8bit")).rate) == "8bit"
    assert str(Shape(delay=parse_duration("1h"), jitter=parse_duration("60m")).delay) == "1h"


def test_with_shape_replaces_same_selector_and_puts_narrow_first() -> None:
    faults = NamespaceFaults(tag="demo", netns="/run/netns/x", label="demo/api")
    broad = Shape(rate=parse_rate("10mbit"))
    narrow = Shape(loss=parse_percent("20%"), selector=Selector(peers=("10.0.0.3",)))
    faults = faults.with_shape(narrow).with_shape(broad)
    assert faults.shapes == (narrow, broad)
    slower = Shape(rate=parse_rate("1mbit"))
    faults = faults.with_shape(slower)
    assert faults.shapes == (narrow, slower)


def test_expired_shapes_drop_out() -> None:
    shape = Shape(loss=parse_percent("1%"), expires_at=100.0)
    faults = NamespaceFaults(tag="t", netns="/n", label="t/a", shapes=(shape,))
    assert faults.active(99.0).shapes == (shape,)
    assert faults.active(100.0).shapes == ()


def test_tags_fit_chain_names() -> None:
    assert make_tag("demo") == "demo"
    long = make_tag("a-very-long-cluster-name-indeed")
    assert len(long) <= 16
    assert long != make_tag("a-very-long-cluster-name-other")
    assert make_tag("my project!") == "my-project"
    with pytest.raises(UsageError, match="fault tag"):
        NamespaceFaults(tag="no spaces", netns="/n", label="x")


def test_partition_is_sorted_and_deduplicated() -> None:
    p = Partition(cuts=(Cut("b", "a"), Cut("a", "b"), Cut("a", "b")), kind="groups")
    assert p.cuts == (Cut("a", "b"), Cut("b", "a"))
    assert Partition.from_dict(p.to_dict()) == p


_percent = st.integers(min_value=1, max_value=100).map(lambda n: parse_percent(f"{n}%"))
_shapes = st.builds(
    Shape,
    delay=st.just(parse_duration("100ms")),
    jitter=st.one_of(st.none(), st.just(parse_duration("1.5ms"))),
    distribution=st.sampled_from(["uniform", "normal", "pareto", "paretonormal"]),
    loss=st.one_of(st.none(), _percent),
    rate=st.one_of(st.none(), st.just(parse_rate("50kbps"))),
    duplicate=st.one_of(st.none(), _percent),
    corrupt=st.one_of(st.none(), _percent),
    reorder=st.one_of(st.none(), _percent),
    selector=st.builds(
        Selector,
        peers=st.lists(st.sampled_from(["10.0.0.2", "10.0.1.0/24"]), max_size=2).map(tuple),
        ports=st.sampled_from(["", "80", "80,1000:2000"]).map(
            lambda t: parse_ports(t) if t else ()
        ),
        proto=st.sampled_from([None, "tcp", "udp"]),
        direction=st.sampled_from(["egress", "ingress", "both"]),
    ),
    expires_at=st.one_of(st.none(), st.floats(min_value=0, max_value=2e9)),
)


@given(st.lists(_shapes, max_size=4))
def test_namespace_faults_round_trip_through_json(shapes: list[Shape]) -> None:
    faults = NamespaceFaults(
        tag="demo",
        netns="/proc/42/ns/net",
        label="demo/api",
        shapes=tuple(shapes),
        blocks=Blocks(egress=("10.0.0.3",), ingress_originated=("10.0.0.4/32",)),
    )
    again = NamespaceFaults.from_json(faults.to_json())
    assert again == faults
    assert [str(s) for s in again.shapes] == [str(s) for s in faults.shapes]
