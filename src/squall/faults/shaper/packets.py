"""IPv4 packets as the shaper needs them: where they go, how to damage, split and re-send.

Egress copies are re-sent through an `IPPROTO_RAW` socket (IP_HDRINCL implied): the
kernel keeps our IP header, fills in the header checksum, and leaves the transport
checksum alone, so a corrupted payload reaches the peer with a stale checksum, as
netem's corruption does. Raw header-included sends are never fragmented by the kernel,
hence `fragment` for the rare datagram larger than the route's MTU.
"""

from __future__ import annotations

import random
import socket
import struct

_IP_DF = 0x4000
_IP_MF = 0x2000
_IP_OFFSET_MASK = 0x1FFF
_FRAG = struct.Struct(">H")


def is_ipv4(packet: bytes | memoryview) -> bool:
    return len(packet) >= 20 and packet[0] >> 4 == 4


def header_length(packet: bytes | memoryview) -> int:
    return (packet[0] & 0x0F) * 4


def destination(packet: bytes | memoryview) -> str:
    """The IPv4 destination address as text (what `sendto` wants)."""
    return socket.inet_ntoa(bytes(packet[16:20]))


def dont_fragment(packet: bytes | memoryview) -> bool:
    return bool(_FRAG.unpack_from(packet, 6)[0] & _IP_DF)


def corrupt(packet: bytes, rng: random.Random) -> bytes:
    """Flip one random bit after the IP header (the header checksum would hide it).

    A packet with nothing after its header comes back unchanged.
    """
    start = header_length(packet)
    if len(packet) <= start:
        return packet
    damaged = bytearray(packet)
    damaged[rng.randrange(start, len(packet))] ^= 1 << rng.randrange(8)
    return bytes(damaged)


def fragment(packet: bytes, mtu: int) -> list[bytes]:
    """Split an IPv4 packet into fragments of at most `mtu` bytes (RFC 791).

    Options are copied into every fragment, which is right for the options hosts send
    (none, in practice). Raises ValueError when the packet says don't fragment.
    """
    if len(packet) <= mtu:
        return [packet]
    if dont_fragment(packet):
        raise ValueError("packet larger than the MTU has don't-fragment set")
    hlen = header_length(packet)
    header = packet[:hlen]
    data = packet[hlen:]
    step = (mtu - hlen) // 8 * 8
    if step <= 0:
        raise ValueError(f"MTU {mtu} too small for a {hlen}-byte header")
    flags_offset = _FRAG.unpack_from(packet, 6)[0]
    base = flags_offset & _IP_OFFSET_MASK
    more_after = flags_offset & _IP_MF
    pieces = []
    for pos in range(0, len(data), step):
        chunk = data[pos : pos + step]
        last = pos + step >= len(data)
        field = (base + pos // 8) | (more_after if last else _IP_MF)
        head = bytearray(header)
        struct.pack_into(">H", head, 2, hlen + len(chunk))
        struct.pack_into(">H", head, 6, field)
        struct.pack_into(">H", head, 10, 0)  # the kernel fills in the checksum
        pieces.append(bytes(head) + chunk)
    return pieces


def open_raw_sender(mark: int, sndbuf: int = 4 << 20) -> socket.socket:
    """A non-blocking raw IPv4 sender whose packets carry `mark`, in the current netns."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
        try:
            sock.setsockopt(socket.SOL_SOCKET, 32, sndbuf)  # SO_SNDBUFFORCE
        except PermissionError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


__all__ = [
    "corrupt",
    "destination",
    "dont_fragment",
    "fragment",
    "header_length",
    "is_ipv4",
    "open_raw_sender",
]
