"""UDP `ports:` on the netns backend: datagrams from the host to a service and back.

UDP has no connections to hand over, so the relay keeps one socket per client
address: made inside the service's namespace and connected to the target, it carries
that client's datagrams in and the service's answers back out through the published
socket. A client silent for `IDLE_AFTER` seconds loses its socket; at most `MAX_PEERS`
are kept (the least recently used goes first). Like the TCP forwarder it needs no
kernel rules, so nothing is left behind when the supervisor stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import dataclass

from squall.linux.netns import entered

IDLE_AFTER = 60.0
MAX_PEERS = 1024
_BURST = 64  # datagrams read per wake-up, so one busy socket cannot starve the loop
_DATAGRAM = 65535

Address = tuple[str, int]


@dataclass(eq=False)
class _Peer:
    """The socket inside the namespace that speaks for one client."""

    sock: socket.socket
    client: Address
    last: float


class UdpRelay:
    """Relays between `published` (a bound host socket) and `target` in `netns`."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        published: socket.socket,
        netns: str | None,
        target: Address,
    ) -> None:
        self._loop = loop
        self._published = published
        self._netns = netns
        self._target = target
        self._peers: dict[Address, _Peer] = {}
        published.setblocking(False)
        loop.add_reader(published.fileno(), self._from_clients)
        self._sweep = loop.call_later(IDLE_AFTER / 4, self._expire)

    def close(self) -> None:
        """Stop relaying and close every socket (the published one too)."""
        self._sweep.cancel()
        for peer in list(self._peers.values()):
            self._drop(peer)
        self._loop.remove_reader(self._published.fileno())
        self._published.close()

    def _from_clients(self) -> None:
        for _ in range(_BURST):
            try:
                data, client = self._published.recvfrom(_DATAGRAM)
            except OSError:  # nothing more to read (or an error the client caused)
                return
            peer = self._peers.get(client) or self._open(client)
            if peer is None:
                continue
            peer.last = time.monotonic()
            with contextlib.suppress(OSError):  # the service's port may be closed: UDP drops
                peer.sock.send(data)

    def _from_service(self, peer: _Peer) -> None:
        for _ in range(_BURST):
            try:
                data = peer.sock.recv(_DATAGRAM)
            except OSError:  # nothing more, or "connection refused" from an ICMP answer
                return
            peer.last = time.monotonic()
            with contextlib.suppress(OSError):
                self._published.sendto(data, peer.client)

    def _open(self, client: Address) -> _Peer | None:
        try:
            if self._netns:
                with entered(self._netns):
                    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            else:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        except OSError:  # the namespace is gone: the service is stopping
            return None
        try:
            sock.setblocking(False)
            sock.connect(self._target)
        except OSError:
            sock.close()
            return None
        if len(self._peers) >= MAX_PEERS:
            self._drop(min(self._peers.values(), key=lambda p: p.last))
        peer = _Peer(sock, client, time.monotonic())
        self._peers[client] = peer
        self._loop.add_reader(sock.fileno(), self._from_service, peer)
        return peer

    def _drop(self, peer: _Peer) -> None:
        self._peers.pop(peer.client, None)
        self._loop.remove_reader(peer.sock.fileno())
        peer.sock.close()

    def _expire(self) -> None:
        oldest = time.monotonic() - IDLE_AFTER
        for peer in [p for p in self._peers.values() if p.last < oldest]:
            self._drop(peer)
        self._sweep = self._loop.call_later(IDLE_AFTER / 4, self._expire)


__all__ = ["IDLE_AFTER", "MAX_PEERS", "UdpRelay"]
