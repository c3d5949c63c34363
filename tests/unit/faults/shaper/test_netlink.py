"""nfnetlink_queue messages, packed and parsed byte for byte (no kernel needed)."""

from __future__ import annotations

import socket
import struct

from squall.faults.shaper import netlink
from squall.linux import netlink as codec


def packet_message(queue: int, packet_id: int, payload: bytes, hook: int = 4) -> bytes:
    """A packet message as the kernel sends it (header attr, a mark attr, payload attr)."""
    attrs = (
        codec.pack_attr(netlink.NFQA_PACKET_HDR, struct.pack(">IHB", packet_id, 0x0800, hook))
        + codec.pack_attr(netlink.NFQA_MARK, struct.pack(">I", 7))
        + codec.pack_attr(netlink.NFQA_PAYLOAD, payload)
    )
    return netlink.message(netlink.PACKET_TYPE, queue, attrs, flags=0, family=socket.AF_INET)


def test_config_command_layout() -> None:
    data = netlink.config_command(3, netlink.NFQNL_CFG_CMD_BIND, seq=9)
    length, msg_type, flags, seq, pid = struct.unpack_from("=IHHII", data)
    assert (length, msg_type, seq, pid) == (len(data), (3 << 8) | 2, 9, 0)
    assert flags == codec.NLM_F_REQUEST | codec.NLM_F_ACK
    assert data[16:20] == bytes([socket.AF_UNSPEC, 0, 0, 3])  # queue number big-endian
    assert data[20:] == struct.pack("=HH", 8, netlink.NFQA_CFG_CMD) + bytes([1, 0, 0, 0])


def test_config_params_copy_whole_packets() -> None:
    data = netlink.config_params(1, 0xFFFF)
    assert data[20:] == struct.pack(
        "=HH", 9, netlink.NFQA_CFG_PARAMS
    ) + b"\0\0\xff\xff\x02" + bytes(3)


def test_config_flags_carry_their_mask() -> None:
    data = netlink.config_flags(1, netlink.NFQA_CFG_F_FAIL_OPEN, netlink.NFQA_CFG_F_FAIL_OPEN)
    assert data[20:] == (
        struct.pack("=HH", 8, netlink.NFQA_CFG_FLAGS)
        + b"\0\0\0\x01"
        + struct.pack("=HH", 8, netlink.NFQA_CFG_MASK)
        + b"\0\0\0\x01"
    )


def test_plain_verdict_matches_the_general_packer() -> None:
    fast = netlink.verdict(258, 0x01020304, netlink.NF_ACCEPT)
    general = netlink.message(
        netlink.VERDICT_TYPE,
        258,
        codec.pack_attr(netlink.NFQA_VERDICT_HDR, struct.pack(">II", 1, 0x01020304)),
    )
    assert fast == general and len(fast) == 32


def test_verdict_with_payload_and_mark() -> None:
    data = netlink.verdict(1, 5, netlink.NF_ACCEPT, payload=b"xyz", mark=0x53510000)
    assert data[20:32] == struct.pack("=HH", 12, netlink.NFQA_VERDICT_HDR) + struct.pack(
        ">II", 1, 5
    )
    assert data[32:40] == struct.pack("=HH", 8, netlink.NFQA_MARK) + struct.pack(">I", 0x53510000)
    assert data[40:] == struct.pack("=HH", 7, netlink.NFQA_PAYLOAD) + b"xyz\0"
    assert struct.unpack_from("=I", data)[0] == len(data)


def test_verdict_batch_covers_ids_up_to() -> None:
    data = netlink.verdict_batch(2, 99, netlink.NF_DROP)
    assert struct.unpack_from("=H", data, 4)[0] == (3 << 8) | 3
    assert data[24:32] == struct.pack(">II", 0, 99)


def test_parse_packet_finds_id_and_payload_without_copying() -> None:
    payload = bytes(range(60))
    data = packet_message(4, 77, payload)
    packet_id, start, stop = netlink.parse_packet(data, 0, len(data))
    assert packet_id == 77 and data[start:stop] == payload


def test_parse_several_messages_in_one_read() -> None:
    first, second = packet_message(1, 1, b"a" * 21), packet_message(1, 2, b"b" * 40)
    buf = bytearray(first + second + bytes(100))
    found = list(codec.iter_messages(buf, len(first) + len(second)))
    assert [(t, o) for t, o, _ in found] == [
        (netlink.PACKET_TYPE, 0),
        (netlink.PACKET_TYPE, len(first)),
    ]
    ids = [netlink.parse_packet(buf, o, e)[0] for _, o, e in found]
    assert ids == [1, 2]


def test_parse_packet_message_for_diagnostics() -> None:
    msg = netlink.parse_packet_message(packet_message(9, 3, b"hello", hook=1))
    assert msg == netlink.PacketMessage(9, socket.AF_INET, 3, 1, b"hello")
    assert netlink.message_queue_and_family(packet_message(9, 3, b""), 0) == (9, socket.AF_INET)
