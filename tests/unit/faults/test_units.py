"""Units: parse, print back in the user's unit, and fail with one clear line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from squall.errors import UsageError
from squall.units import (
    DURATION_UNITS,
    RATE_UNITS,
    Duration,
    Percent,
    Rate,
    parse_duration,
    parse_percent,
    parse_rate,
)


@pytest.mark.parametrize(
    ("text", "ns", "printed"),
    [
        ("100ms", 100_000_000, "100ms"),
        ("1.5s", 1_500_000_000, "1.5s"),
        ("2m", 120_000_000_000, "2m"),
        ("10us", 10_000, "10us"),
        ("0", 0, "0ms"),
        ("250msec", 250_000_000, "250ms"),
        (".5s", 500_000_000, "0.5s"),
    ],
)
def test_durations_parse_and_print_in_their_unit(text: str, ns: int, printed: str) -> None:
    d = parse_duration(text, "--delay")
    assert d.ns == ns
    assert str(d) == printed


def test_durations_compare_by_quantity_and_print_for_tc() -> None:
    assert parse_duration("1s") == parse_duration("1000ms")
    assert parse_duration("100ms").tc() == "100ms"
    assert parse_duration("1.5ms").tc() == "1500us"
    assert parse_duration("1.5s").seconds == 1.5


@pytest.mark.parametrize(
    ("text", "bits", "printed"),
    [
        ("50kbps", 400_000, "50kbps"),  # tc: kbps is kilobytes per second
        ("10mbit", 10_000_000, "10mbit"),
        ("1gbit", 1_000_000_000, "1gbit"),
        ("100bps", 800, "100bps"),
        ("2mbps", 16_000_000, "2mbps"),
        ("1500", 1500, "1500bit"),  # bare number: bits per second, as in tc
        ("1.5kbit", 1500, "1.5kbit"),
        ("1kibit", 1024, "1kibit"),
        ("50KBPS", 400_000, "50kbps"),
    ],
)
def test_rates_use_tc_units(text: str, bits: int, printed: str) -> None:
    r = parse_rate(text, "--rate")
    assert r.bits_per_second == bits
    assert str(r) == printed
    assert r.tc() == printed


@pytest.mark.parametrize(
    ("text", "ppb", "printed"),
    [
        ("20%", 200_000_000, "20%"),
        ("0.1%", 1_000_000, "0.1%"),
        ("5", 50_000_000, "5%"),
        ("100%", 1_000_000_000, "100%"),
        ("0%", 0, "0%"),
    ],
)
def test_percentages(text: str, ppb: int, printed: str) -> None:
    p = parse_percent(text, "--loss")
    assert p.ppb == ppb
    assert str(p) == printed


def test_percent_fraction() -> None:
    assert parse_percent("20%").fraction == pytest.approx(0.2)
    assert Percent.of_fraction(0.25) == parse_percent("25%")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: parse_duration("fast", "--delay"),
            "--delay fast: not a duration (examples: 100ms, 1.5s)",
        ),
        (
            lambda: parse_duration("100", "--delay"),
            "--delay 100: needs a unit (examples: 100ms, 1.5s)",
        ),
        (
            lambda: parse_duration("3 parsecs", "--delay"),
            "--delay 3 parsecs: unknown unit 'parsecs' (use one of: us, ms, s, m, h)",
        ),
        (lambda: parse_duration("-1ms", "--jitter"), "--jitter -1ms: must not be negative"),
        (lambda: parse_percent("120%", "--loss"), "--loss 120%: must be between 0% and 100%"),
        (lambda: parse_percent("-1%", "--loss"), "--loss -1%: must be between 0% and 100%"),
        (
            lambda: parse_percent("lots", "--loss"),
            "--loss lots: not a percentage (examples: 20%, 0.1%)",
        ),
        (
            lambda: parse_rate("quick", "--rate"),
            "--rate quick: not a rate (examples: 50kbps, 10mbit)",
        ),
        (lambda: parse_rate("0kbit", "--rate"), "--rate 0kbit: must be more than 0"),
        (
            lambda: parse_rate("5furlongs", "--rate"),
            "--rate 5furlongs: unknown unit 'furlongs' (use one of: bit, kbit, mbit, gbit, "
            "bps, kbps, mbps, gbps)",
        ),
    ],
)
def test_errors_are_one_line_naming_flag_and_value(call: object, message: str) -> None:
    with pytest.raises(UsageError) as info:
        call()  # type: ignore[operator]
    assert str(info.value) == message
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2


_amounts = st.decimals(min_value=0, max_value=100_000, places=3, allow_nan=False).map(
    lambda d: format(d, "f")
)


@given(_amounts, st.sampled_from(sorted(DURATION_UNITS)))
def test_every_duration_prints_back_to_an_equal_value(amount: str, unit: str) -> None:
    d = parse_duration(amount + unit)
    again = parse_duration(str(d))
    assert again == d
    assert again.unit == d.unit
    assert str(again) == str(d)


@given(
    st.decimals(min_value="0.001", max_value=100_000, places=3).map(lambda d: format(d, "f")),
    st.sampled_from(sorted(RATE_UNITS)),
)
def test_every_rate_prints_back_to_an_equal_value(amount: str, unit: str) -> None:
    try:
        r = parse_rate(amount + unit)
    except UsageError:
        return  # rounds to 0 bit/s
    assert parse_rate(str(r)) == r
    assert str(parse_rate(str(r))) == str(r)


@given(st.decimals(min_value=0, max_value=100, places=7).map(lambda d: format(d, "f")))
def test_every_percentage_prints_back_to_an_equal_value(amount: str) -> None:
    p = parse_percent(amount + "%")
    assert parse_percent(str(p)) == p
    assert 0.0 <= p.fraction <= 1.0


@given(st.integers(min_value=0, max_value=10**13))
def test_duration_of_any_ns_round_trips(ns: int) -> None:
    for unit in DURATION_UNITS:
        assert parse_duration(str(Duration(ns, unit))) == Duration(ns)


@given(st.integers(min_value=1, max_value=10**13))
def test_rate_of_any_bits_round_trips(bits: int) -> None:
    for unit in RATE_UNITS:
        assert parse_rate(str(Rate(bits, unit))) == Rate(bits)
