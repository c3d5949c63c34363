"""`ports:` on the netns backend: host sockets forwarded into a service's namespace.

The supervisor listens on the host (127.0.0.1:PUBLISHED by default) and, for each TCP
connection, opens a socket inside the service's namespace (setns, socket, back) and
relays both ways; UDP goes through one relay per published socket (`udp`). No kernel
rules, so nothing is left behind when the supervisor stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass

from squall.linux.netns import entered
from squall.runtime.netns.config import PortForward, ServiceConfig
from squall.runtime.netns.udp import UdpRelay

BACKLOG = 128


@dataclass
class Forwarder:
    spec: PortForward
    sock: socket.socket
    server: asyncio.base_events.Server | None = None
    task: asyncio.Task[None] | None = None
    relay: UdpRelay | None = None

    @property
    def shown(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"{host}:{port}->{self.spec.target}/{self.spec.protocol}"


def open_ports(
    loop: asyncio.AbstractEventLoop, cfg: ServiceConfig
) -> tuple[list[Forwarder], list[str]]:
    """Listen for every `ports:` entry of `cfg`; the forwarders, and one line per port
    that could not be published (taken, not allowed)."""
    forwarders: list[Forwarder] = []
    errors: list[str] = []
    for spec in cfg.ports:
        udp = spec.protocol == "udp"
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((spec.host_ip, spec.published or 0))
            if not udp:
                sock.listen(BACKLOG)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            where = f"{spec.host_ip}:{spec.published or 0}/{spec.protocol}"
            errors.append(f"cannot publish port {where}: {exc.strerror}")
            continue
        forwarder = Forwarder(spec, sock)
        if udp:
            target = (spec.target_ip or "127.0.0.1", spec.target)
            forwarder.relay = UdpRelay(loop, sock, cfg.launch.netns, target)
        else:
            forwarder.task = loop.create_task(_serve(loop, cfg, forwarder))
        forwarders.append(forwarder)
    return forwarders, errors


def close_ports(forwarders: list[Forwarder]) -> None:
    for forwarder in forwarders:
        if forwarder.relay is not None:
            forwarder.relay.close()
        elif forwarder.server is not None:
            forwarder.server.close()
        elif forwarder.task is not None:
            forwarder.task.cancel()
        forwarder.sock.close()


async def _serve(loop: asyncio.AbstractEventLoop, cfg: ServiceConfig, forwarder: Forwarder) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _forward(loop, cfg, forwarder.spec, reader, writer)

    forwarder.server = await asyncio.start_server(handle, sock=forwarder.sock)


async def _forward(
    loop: asyncio.AbstractEventLoop,
    cfg: ServiceConfig,
    spec: PortForward,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    try:
        if cfg.launch.netns:
            with entered(cfg.launch.netns):
                inside = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        else:
            inside = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        inside.setblocking(False)
        await loop.sock_connect(inside, (spec.target_ip or "127.0.0.1", spec.target))
        peer_reader, peer_writer = await asyncio.open_connection(sock=inside)
    except OSError:
        writer.close()
        return
    try:
        await asyncio.gather(_pipe(reader, peer_writer), _pipe(peer_reader, writer))
    finally:
        for end in (writer, peer_writer):
            with contextlib.suppress(OSError):
                end.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        pass


__all__ = ["Forwarder", "close_ports", "open_ports"]
