"""IPv4 handling for re-sent copies: destination, corruption, fragmentation."""

from __future__ import annotations

import random
import socket
import struct

import pytest

from squall.faults.shaper import packets


def ipv4(payload: bytes, *, df: bool = False, dst: str = "10.203.1.2", ident: int = 7) -> bytes:
    flags = 0x4000 if df else 0
    header = struct.pack(
        ">BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        ident,
        flags,
        64,
        17,
        0,
        socket.inet_aton("10.203.1.1"),
        socket.inet_aton(dst),
    )
    return header + payload


def test_destination_and_version() -> None:
    packet = ipv4(b"x", dst="10.203.9.8")
    assert packets.is_ipv4(packet) and packets.destination(packet) == "10.203.9.8"
    assert not packets.is_ipv4(b"\x60" + bytes(39))
    assert packets.header_length(packet) == 20


def test_corrupt_flips_exactly_one_bit_after_the_header() -> None:
    rng = random.Random(1)
    packet = ipv4(bytes(100))
    for _ in range(200):
        damaged = packets.corrupt(packet, rng)
        assert damaged[:20] == packet[:20]
        flipped = sum(bin(a ^ b).count("1") for a, b in zip(packet, damaged, strict=True))
        assert flipped == 1


def test_corrupt_leaves_a_bare_header_alone() -> None:
    packet = ipv4(b"")
    assert packets.corrupt(packet, random.Random(2)) == packet


def test_fragment_splits_on_eight_byte_boundaries() -> None:
    payload = bytes(range(256)) * 12  # 3072 bytes
    pieces = packets.fragment(ipv4(payload), 1500)
    assert [len(p) for p in pieces] == [1500, 1500, 20 + 3072 - 2 * 1480]
    offsets = [struct.unpack_from(">H", p, 6)[0] for p in pieces]
    assert offsets == [0x2000 | 0, 0x2000 | 185, 370]
    assert b"".join(p[20:] for p in pieces) == payload
    assert all(struct.unpack_from(">H", p, 2)[0] == len(p) for p in pieces)


def test_small_packet_is_not_split() -> None:
    packet = ipv4(bytes(100))
    assert packets.fragment(packet, 1500) == [packet]


def test_dont_fragment_is_respected() -> None:
    with pytest.raises(ValueError, match="don't-fragment"):
        packets.fragment(ipv4(bytes(2000), df=True), 1500)
