"""Netlink framing, packed and unpacked in one place: message headers, attributes, dumps.

Spoken by the in-process rtnetlink reads of `squall.faults.kernel` (NETLINK_ROUTE) and
by the shaper's nfnetlink_queue protocol (NETLINK_NETFILTER). A message is a header
(`nlmsghdr`: length, type, flags, sequence, port id) and a family-specific body, whose
attributes are (length, type, payload) padded to 4 bytes. Headers are in host byte
order; what payloads hold is each family's business.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterator

HEADER = struct.Struct("=IHHII")
"""nlmsghdr: length, type, flags, sequence number, port id."""
LENGTH_AND_TYPE = struct.Struct("=IH")
"""The first two fields of a header alone, for loops that read nothing else."""
ATTR = struct.Struct("=HH")
"""nlattr: length, type."""
ERROR = struct.Struct("=i")
"""The (negative) errno that opens an NLMSG_ERROR body."""

NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
NLA_TYPE_MASK = 0x3FFF
DUMP_TRIES = 3

Buffer = bytes | bytearray | memoryview


def align(length: int) -> int:
    """Netlink pads messages and attributes to 4 bytes."""
    return (length + 3) & ~3


def pack_message(
    msg_type: int, body: bytes, *, flags: int = NLM_F_REQUEST, seq: int = 0, port: int = 0
) -> bytes:
    """One message: the header, then `body` (the family's header and attributes)."""
    return HEADER.pack(HEADER.size + len(body), msg_type, flags, seq, port) + body


def pack_attr(attr_type: int, payload: bytes) -> bytes:
    """One attribute, padded to 4 bytes."""
    length = ATTR.size + len(payload)
    return ATTR.pack(length, attr_type) + payload + b"\0" * (align(length) - length)


def parse_attrs(data: Buffer, offset: int = 0, end: int | None = None) -> dict[int, bytes]:
    """The attributes from `offset` to `end` (default: the end of `data`), by type."""
    stop = len(data) if end is None else end
    out: dict[int, bytes] = {}
    while offset + ATTR.size <= stop:
        length, attr_type = ATTR.unpack_from(data, offset)
        if length < ATTR.size:
            break
        out[attr_type & NLA_TYPE_MASK] = bytes(data[offset + ATTR.size : offset + length])
        offset += align(length)
    return out


def attr_text(raw: bytes | None) -> str:
    """A NUL-terminated string attribute (an interface name, a qdisc kind)."""
    return (raw or b"").split(b"\0", 1)[0].decode(errors="replace")


def iter_messages(buf: Buffer, size: int) -> Iterator[tuple[int, int, int]]:
    """`(type, offset, end)` of each whole message in the first `size` bytes of `buf`."""
    offset = 0
    while offset + HEADER.size <= size:
        length, msg_type = LENGTH_AND_TYPE.unpack_from(buf, offset)
        if length < HEADER.size or offset + length > size:
            return
        yield msg_type, offset, offset + length
        offset += align(length)


def error_code(buf: Buffer, offset: int) -> int:
    """The positive errno of the NLMSG_ERROR message at `offset` (0: an acknowledgement)."""
    code: int = ERROR.unpack_from(buf, offset + HEADER.size)[0]
    return -code


def dump(sock: socket.socket, msg_type: int, body: bytes, seq: int) -> list[bytes]:
    """One netlink dump: the body of each message it answers, header stripped.

    A dump the kernel marks as interrupted (the objects changed meanwhile) is asked
    again, up to `DUMP_TRIES` times, with a fresh sequence number.

    Raises:
        OSError: the kernel answered with an error, or the dump kept being interrupted.
    """
    for _ in range(DUMP_TRIES):
        sock.send(pack_message(msg_type, body, flags=NLM_F_REQUEST | NLM_F_DUMP, seq=seq))
        bodies, interrupted = _read_dump(sock, seq)
        if not interrupted:
            return bodies
        seq += 1
    raise OSError(errno.EINTR, "netlink dump interrupted by changes, again and again")


def _read_dump(sock: socket.socket, seq: int) -> tuple[list[bytes], bool]:
    """The bodies of one dump's answers until NLMSG_DONE, and whether it was interrupted."""
    bodies: list[bytes] = []
    interrupted = False
    while True:
        data = sock.recv(1 << 16)
        offset = 0
        while offset + HEADER.size <= len(data):
            length, msg_type, flags, got_seq, _port = HEADER.unpack_from(data, offset)
            if length < HEADER.size:
                raise OSError(errno.EPROTO, "malformed netlink message")
            body = data[offset + HEADER.size : offset + length]
            offset += align(length)
            if got_seq != seq:
                continue
            interrupted = interrupted or bool(flags & NLM_F_DUMP_INTR)
            if msg_type == NLMSG_DONE:
                return bodies, interrupted
            if msg_type == NLMSG_ERROR:
                (code,) = ERROR.unpack_from(body)
                if code:
                    raise OSError(-code, os.strerror(-code))
                return bodies, interrupted
            bodies.append(body)


__all__ = [
    "ATTR",
    "HEADER",
    "LENGTH_AND_TYPE",
    "NLA_TYPE_MASK",
    "NLMSG_DONE",
    "NLMSG_ERROR",
    "NLMSG_NOOP",
    "NLM_F_ACK",
    "NLM_F_DUMP",
    "NLM_F_REQUEST",
    "align",
    "attr_text",
    "dump",
    "error_code",
    "iter_messages",
    "pack_attr",
    "pack_message",
    "parse_attrs",
]
