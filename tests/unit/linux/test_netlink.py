"""Netlink framing, packed and parsed byte for byte; dumps against a scripted socket."""

from __future__ import annotations

import errno
import struct
from collections.abc import Sequence

import pytest

from squall.linux import netlink


def test_attr_is_padded_to_four_bytes() -> None:
    assert netlink.pack_attr(5, b"abcde") == struct.pack("=HH", 9, 5) + b"abcde\0\0\0"
    assert netlink.pack_attr(5, b"abcd") == struct.pack("=HH", 8, 5) + b"abcd"


def test_attrs_round_trip_with_nested_flags_masked() -> None:
    data = b"\0" * 4 + netlink.pack_attr(3, b"eth0\0") + netlink.pack_attr(0x8000 | 18, b"xy")
    assert netlink.parse_attrs(data, 4) == {3: b"eth0\0", 18: b"xy"}
    assert netlink.attr_text(netlink.parse_attrs(data, 4)[3]) == "eth0"
    assert netlink.attr_text(None) == ""


def test_message_header_says_its_length() -> None:
    data = netlink.pack_message(18, b"body", flags=netlink.NLM_F_REQUEST, seq=7)
    assert netlink.HEADER.unpack_from(data) == (20, 18, netlink.NLM_F_REQUEST, 7, 0)
    assert data[16:] == b"body"


def test_truncated_message_is_not_yielded() -> None:
    data = netlink.pack_message(16, b"x" * 30)
    assert [t for t, _, _ in netlink.iter_messages(data, len(data))] == [16]
    assert list(netlink.iter_messages(data, len(data) - 4)) == []


def test_error_message_code() -> None:
    err = netlink.pack_message(netlink.NLMSG_ERROR, struct.pack("=i", -16) + bytes(16), seq=4)
    assert netlink.error_code(err, 0) == errno.EBUSY


class ScriptedSocket:
    """Answers each request with the next datagrams of a script; records requests."""

    def __init__(self, answers: Sequence[Sequence[bytes]]) -> None:
        self.answers = [list(a) for a in answers]
        self.sent: list[bytes] = []
        self.pending: list[bytes] = []

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        self.pending = self.answers.pop(0)
        return len(data)

    def recv(self, size: int) -> bytes:
        return self.pending.pop(0)


def _answer(seq: int, bodies: Sequence[bytes], *, flags: int = 0) -> bytes:
    return b"".join(netlink.pack_message(16, b, flags=flags, seq=seq) for b in bodies)


def _done(seq: int) -> bytes:
    return netlink.pack_message(netlink.NLMSG_DONE, b"\0" * 4, seq=seq)


def test_dump_gathers_bodies_across_datagrams_until_done() -> None:
    sock = ScriptedSocket([[_answer(5, [b"aaaa", b"bbbbbbbb"]), _answer(4, [b"old!"]) + _done(5)]])
    assert netlink.dump(sock, 18, b"req", 5) == [b"aaaa", b"bbbbbbbb"]  # type: ignore[arg-type]
    (request,) = sock.sent
    assert netlink.HEADER.unpack_from(request)[1:4] == (
        18,
        netlink.NLM_F_REQUEST | netlink.NLM_F_DUMP,
        5,
    )


def test_interrupted_dump_is_asked_again_with_a_new_sequence() -> None:
    sock = ScriptedSocket(
        [
            [_answer(1, [b"stal"], flags=netlink.NLM_F_DUMP_INTR) + _done(1)],
            [_answer(2, [b"fres"]) + _done(2)],
        ]
    )
    assert netlink.dump(sock, 18, b"", 1) == [b"fres"]  # type: ignore[arg-type]
    assert [netlink.HEADER.unpack_from(s)[3] for s in sock.sent] == [1, 2]


def test_dump_raises_the_kernels_error() -> None:
    error = netlink.pack_message(netlink.NLMSG_ERROR, struct.pack("=i", -errno.EPERM), seq=3)
    sock = ScriptedSocket([[error]])
    with pytest.raises(PermissionError):
        netlink.dump(sock, 18, b"", 3)  # type: ignore[arg-type]


def test_a_malformed_answer_is_an_error_not_a_hang() -> None:
    sock = ScriptedSocket([[struct.pack("=IHHII", 4, 16, 0, 9, 0)]])
    with pytest.raises(OSError, match="malformed"):
        netlink.dump(sock, 18, b"", 9)  # type: ignore[arg-type]
