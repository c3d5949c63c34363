"""The nfnetlink_queue protocol, spoken directly over an AF_NETLINK socket.

Why not libnetfilter_queue: its bindings own the socket and the loop, while the shaper
needs plain sockets created inside other network namespaces and served by one loop of
its own. The protocol is small: a netlink header, an `nfgenmsg` (family, version, queue
number big-endian), then attributes (length, type, payload, padded to 4 bytes). All
multi-byte values inside nfqueue attributes are big-endian; netlink headers are host
order. The framing itself (headers, attributes, walking a buffer) is `squall.linux.netlink`.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass

from squall.linux.netlink import (
    ATTR,
    HEADER,
    NLA_TYPE_MASK,
    NLM_F_ACK,
    NLM_F_REQUEST,
    NLMSG_ERROR,
    Buffer,
    align,
    error_code,
    iter_messages,
    pack_attr,
    pack_message,
)

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3

NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQNL_MSG_VERDICT_BATCH = 3

NFQNL_CFG_CMD_BIND = 1
NFQNL_CFG_CMD_UNBIND = 2
NFQNL_CFG_CMD_PF_BIND = 3
NFQNL_CFG_CMD_PF_UNBIND = 4

NFQNL_COPY_NONE = 0
NFQNL_COPY_META = 1
NFQNL_COPY_PACKET = 2

NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQA_CFG_F_FAIL_OPEN = 0x1

NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_MARK = 3
NFQA_PAYLOAD = 10

NF_DROP = 0
NF_ACCEPT = 1

SO_RCVBUFFORCE = 33
SO_SNDBUFFORCE = 32

PACKET_TYPE = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET
VERDICT_TYPE = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT
VERDICT_BATCH_TYPE = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT_BATCH
CONFIG_TYPE = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG

_NFGENMSG = struct.Struct(">BBH")
_BE32 = struct.Struct(">I")
_HEADER_LEN = HEADER.size + _NFGENMSG.size  # 20: attributes start here

# A verdict with only its header attribute has one fixed layout: pack it in one call
# (host order throughout, the big-endian fields passed through htons/htonl).
_VERDICT_ONLY = struct.Struct("=IHHIIBBHHHII")
_VERDICT_HDR_ATTR = ATTR.size + 8


class NetlinkError(OSError):
    """The kernel answered a request with an error (errno and what was asked)."""


def message(
    msg_type: int,
    queue: int,
    attrs: bytes,
    *,
    flags: int = NLM_F_REQUEST,
    seq: int = 0,
    family: int = socket.AF_UNSPEC,
) -> bytes:
    """A whole nfqueue netlink message: header, nfgenmsg, attributes."""
    return pack_message(msg_type, _NFGENMSG.pack(family, 0, queue) + attrs, flags=flags, seq=seq)


def config_command(queue: int, command: int, pf: int = socket.AF_UNSPEC, seq: int = 0) -> bytes:
    return message(
        CONFIG_TYPE,
        queue,
        pack_attr(NFQA_CFG_CMD, struct.pack(">BxH", command, pf)),
        flags=NLM_F_REQUEST | NLM_F_ACK,
        seq=seq,
    )


def config_params(queue: int, copy_range: int, seq: int = 0) -> bytes:
    """Copy whole packets (up to `copy_range` bytes) to userspace."""
    params = struct.pack(">IB", copy_range, NFQNL_COPY_PACKET)
    return message(
        CONFIG_TYPE,
        queue,
        pack_attr(NFQA_CFG_PARAMS, params),
        flags=NLM_F_REQUEST | NLM_F_ACK,
        seq=seq,
    )


def config_maxlen(queue: int, maxlen: int, seq: int = 0) -> bytes:
    return message(
        CONFIG_TYPE,
        queue,
        pack_attr(NFQA_CFG_QUEUE_MAXLEN, _BE32.pack(maxlen)),
        flags=NLM_F_REQUEST | NLM_F_ACK,
        seq=seq,
    )


def config_flags(queue: int, flags: int, mask: int, seq: int = 0) -> bytes:
    """Set queue flags; the kernel wants the mask of the flags being changed too."""
    attrs = pack_attr(NFQA_CFG_FLAGS, _BE32.pack(flags)) + pack_attr(
        NFQA_CFG_MASK, _BE32.pack(mask)
    )
    return message(CONFIG_TYPE, queue, attrs, flags=NLM_F_REQUEST | NLM_F_ACK, seq=seq)


def verdict(
    queue: int,
    packet_id: int,
    decision: int,
    *,
    payload: bytes | None = None,
    mark: int | None = None,
) -> bytes:
    """Verdict for one packet; `payload` replaces the packet's bytes (ingress corrupt)."""
    if payload is None and mark is None:
        return _VERDICT_ONLY.pack(
            _VERDICT_ONLY.size,
            VERDICT_TYPE,
            NLM_F_REQUEST,
            0,
            0,
            socket.AF_UNSPEC,
            0,
            socket.htons(queue),
            _VERDICT_HDR_ATTR,
            NFQA_VERDICT_HDR,
            socket.htonl(decision),
            socket.htonl(packet_id),
        )
    attrs = pack_attr(NFQA_VERDICT_HDR, struct.pack(">II", decision, packet_id))
    if mark is not None:
        attrs += pack_attr(NFQA_MARK, _BE32.pack(mark))
    if payload is not None:
        attrs += pack_attr(NFQA_PAYLOAD, payload)
    return message(VERDICT_TYPE, queue, attrs)


def verdict_batch(queue: int, up_to_id: int, decision: int) -> bytes:
    """One verdict for every packet of the queue with an id up to `up_to_id`."""
    return message(
        VERDICT_BATCH_TYPE,
        queue,
        pack_attr(NFQA_VERDICT_HDR, struct.pack(">II", decision, up_to_id)),
    )


@dataclass(frozen=True)
class PacketMessage:
    """A queued packet as parsed, for callers that are not the hot loop."""

    queue: int
    family: int
    packet_id: int
    hook: int
    payload: bytes


def parse_packet(buf: Buffer, offset: int, end: int) -> tuple[int, int, int]:
    """Find a packet message's id and payload bounds, without copying anything.

    Returns `(packet_id, payload_start, payload_end)`; the payload is empty
    (`start == end`) if the kernel sent none. `offset..end` is one message.
    """
    packet_id = -1
    start = stop = 0
    pos = offset + _HEADER_LEN
    unpack = ATTR.unpack_from
    while pos + 4 <= end:
        length, atype = unpack(buf, pos)
        if length < 4:
            break
        atype &= NLA_TYPE_MASK
        if atype == NFQA_PACKET_HDR:
            packet_id = _BE32.unpack_from(buf, pos + 4)[0]
        elif atype == NFQA_PAYLOAD:
            start, stop = pos + 4, pos + length
        pos += (length + 3) & ~3
    return packet_id, start, stop


def message_queue_and_family(buf: Buffer, offset: int) -> tuple[int, int]:
    """`(queue number, address family)` from a message's nfgenmsg."""
    family, _version, queue = _NFGENMSG.unpack_from(buf, offset + HEADER.size)
    return queue, family


def parse_packet_message(data: bytes) -> PacketMessage:
    """Parse one whole packet message into a `PacketMessage` (tests, diagnostics)."""
    msg_type, offset, end = next(iter_messages(data, len(data)))
    if msg_type != PACKET_TYPE:
        raise ValueError(f"not an nfqueue packet message: type {msg_type:#x}")
    queue, family = message_queue_and_family(data, offset)
    packet_id, start, stop = parse_packet(data, offset, end)
    hook = -1
    pos = offset + _HEADER_LEN
    while pos + 4 <= end:
        length, atype = ATTR.unpack_from(data, pos)
        if atype & NLA_TYPE_MASK == NFQA_PACKET_HDR:
            hook = data[pos + 4 + 6]
        pos += align(max(length, 4))
    return PacketMessage(queue, family, packet_id, hook, bytes(data[start:stop]))


class NfQueue:
    """A netlink socket bound to one NFQUEUE number in the namespace it was created in.

    The socket keeps its namespace for life, so the caller may create it after `setns`
    and go back home. Non-blocking once configured; the caller reads with `recv_into`.
    """

    def __init__(self, num: int, *, maxlen: int = 65536, rcvbuf: int = 16 << 20) -> None:
        self.num = num
        self._seq = 0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            self.sock.bind((0, 0))
            _force_buffer(self.sock, SO_RCVBUFFORCE, socket.SO_RCVBUF, rcvbuf)
            _force_buffer(self.sock, SO_SNDBUFFORCE, socket.SO_SNDBUF, 4 << 20)
            self.sock.settimeout(2.0)
            self._request(
                config_command(num, NFQNL_CFG_CMD_BIND, seq=self._next_seq()), f"bind queue {num}"
            )
            self._request(
                config_params(num, 0xFFFF, seq=self._next_seq()), f"set copy mode of queue {num}"
            )
            self._request(
                config_maxlen(num, maxlen, seq=self._next_seq()), f"set length of queue {num}"
            )
            self._request(
                config_flags(num, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN, seq=self._next_seq()),
                f"set fail-open on queue {num}",
            )
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _request(self, data: bytes, what: str) -> None:
        """Send one config request and wait for its acknowledgement."""
        seq = self._seq
        self.sock.send(data)
        buf = bytearray(8192)
        while True:
            size = self.sock.recv_into(buf)
            for msg_type, offset, _end in iter_messages(buf, size):
                if msg_type != NLMSG_ERROR:
                    continue  # a packet already queued; the kernel fails it open later
                got_seq = HEADER.unpack_from(buf, offset)[3]
                if got_seq != seq:
                    continue
                code = error_code(buf, offset)
                if code:
                    hint = " (another process holds it)" if code == errno.EBUSY else ""
                    raise NetlinkError(code, f"cannot {what}: {os.strerror(code)}{hint}")
                return

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        """Close the socket; the kernel unbinds the queue and drops what it still holds."""
        self.sock.close()


def _force_buffer(sock: socket.socket, force_opt: int, opt: int, size: int) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, force_opt, size)
    except PermissionError:
        sock.setsockopt(socket.SOL_SOCKET, opt, size)


__all__ = [
    "NF_ACCEPT",
    "NF_DROP",
    "PACKET_TYPE",
    "NetlinkError",
    "NfQueue",
    "PacketMessage",
    "config_command",
    "config_flags",
    "config_maxlen",
    "config_params",
    "message",
    "message_queue_and_family",
    "parse_packet",
    "parse_packet_message",
    "verdict",
    "verdict_batch",
]
