"""Traffic between two network namespaces, counted on the receiving side.

A fault can hold one way and leak the other (a partition whose reply rule is gone
still fails ping), so these helpers count what arrives, per direction: this process
opens a socket inside each namespace (`entered`: the socket stays there) and sends
from one to the other, for UDP and for ICMP echo requests (a raw socket sees what
netfilter let through to the receiver). `ping_rtts` runs iputils ping inside the
sender's namespace for delays. Needs root; traffic only goes to the address given.
"""

from __future__ import annotations

import os
import re
import secrets
import select
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from squall.linux.netns import entered

ICMP_ECHO_REQUEST = 8


@contextmanager
def _socket_in(netns: str, kind: int, proto: int = 0) -> Iterator[socket.socket]:
    with entered(netns):
        sock = socket.socket(socket.AF_INET, kind, proto)
    try:
        yield sock
    finally:
        sock.close()


def _count_until_quiet(sock: socket.socket, matches: bytes, wait: float) -> int:
    """Datagrams containing `matches`, read until none came for `wait` seconds."""
    seen = 0
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            break
        if matches in sock.recv(2048):
            seen += 1
            deadline = time.monotonic() + wait
    return seen


def udp_delivered(
    src_netns: str, dst_netns: str, dst_ip: str, *, count: int = 20, wait: float = 0.3
) -> int:
    """How many of `count` UDP datagrams sent from `src_netns` reach `dst_netns`."""
    nonce = secrets.token_bytes(8)
    with (
        _socket_in(dst_netns, socket.SOCK_DGRAM) as rx,
        _socket_in(src_netns, socket.SOCK_DGRAM) as tx,
    ):
        rx.bind(("0.0.0.0", 0))
        port = rx.getsockname()[1]
        for i in range(count):
            with suppress(OSError):  # a REJECT or an unreachable network: not delivered
                tx.sendto(nonce + i.to_bytes(4, "big"), (dst_ip, port))
        return _count_until_quiet(rx, nonce, wait)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo_request(ident: int, seq: int, payload: bytes) -> bytes:
    header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident, seq)
    checksum = _checksum(header + payload)
    return struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, checksum, ident, seq) + payload


def icmp_delivered(
    src_netns: str, dst_netns: str, dst_ip: str, *, count: int = 20, wait: float = 0.3
) -> int:
    """How many of `count` ICMP echo requests sent from `src_netns` reach `dst_netns`
    (counted by a raw socket there, which sees only what netfilter delivered)."""
    nonce = secrets.token_bytes(8)
    raw = socket.SOCK_RAW
    with (
        _socket_in(dst_netns, raw, socket.IPPROTO_ICMP) as rx,
        _socket_in(src_netns, raw, socket.IPPROTO_ICMP) as tx,
    ):
        ident = os.getpid() & 0xFFFF
        for seq in range(count):
            with suppress(OSError):
                tx.sendto(_echo_request(ident, seq, nonce), (dst_ip, 0))
        return _count_until_quiet(rx, nonce, wait)


def ping_rtts(netns: str, ip: str, *, count: int = 5, interval: float = 0.05) -> list[float]:
    """Round trips in ms of iputils ping from inside `netns` (lost ones are absent)."""
    out = subprocess.run(
        ("nsenter", f"--net={netns}", "--", "ping", "-n", "-c", str(count), "-i", str(interval),
         "-W", "1", ip),
        capture_output=True,
        text=True,
        timeout=count * (interval + 1) + 5,
        check=False,
    ).stdout  # fmt: skip
    return [float(m) for m in re.findall(r"time=([\d.]+) ms", out)]


__all__ = ["icmp_delivered", "ping_rtts", "udp_delivered"]
