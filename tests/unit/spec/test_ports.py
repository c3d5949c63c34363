"""Short port syntax: parsing, printing back, and a round-trip property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from squall.spec import PortMapping
from squall.spec.ports import parse_port_spec, port_text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("80:abc", "invalid port 'abc'"),
        ("0", "out of range"),
        ("80/icmp", "unknown protocol"),
        ("1.2.3:80:80", "invalid host IP"),
        ("9000-9002:80-81", "differ in length"),
        ("90-80", "ends before it starts"),
        ("[::1:80:80", "invalid port mapping"),
        ("", "invalid port ''"),
    ],
)
def test_bad_specs(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_port_spec(text)


ports = st.integers(min_value=1, max_value=65535)
mappings = st.builds(
    PortMapping,
    target=ports,
    published=st.none() | ports,
    host_ip=st.none() | st.sampled_from(["127.0.0.1", "0.0.0.0", "::1", "10.1.2.3"]),
    protocol=st.sampled_from(["tcp", "udp", "sctp"]),
)


@given(mappings)
def test_round_trip(mapping: PortMapping) -> None:
    assert parse_port_spec(port_text(mapping)) == [mapping]
