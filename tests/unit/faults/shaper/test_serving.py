"""The queue servers' packet paths, with fake sockets standing in for the kernel."""

from __future__ import annotations

import random
import socket
import struct
from typing import cast

from squall.faults.shaper import netlink
from squall.faults.shaper.netlink import NfQueue
from squall.faults.shaper.scheduler import Scheduler
from squall.faults.shaper.serving import EgressServer, IngressServer, make_server
from squall.faults.shaper_config import QueueSpec
from squall.linux import netlink as codec
from tests.unit.faults.shaper.test_netlink import packet_message
from tests.unit.faults.shaper.test_packets import ipv4


class FakeNetlink:
    """Hands out queued messages one per read, records what is sent back."""

    def __init__(self, messages: list[bytes]) -> None:
        self.messages = list(messages)
        self.sent: list[bytes] = []

    def recv_into(self, buf: bytearray) -> int:
        if not self.messages:
            raise BlockingIOError
        data = self.messages.pop(0)
        buf[: len(data)] = data
        return len(data)

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        return len(data)


class FakeQueue:
    def __init__(self, messages: list[bytes]) -> None:
        self.sock = FakeNetlink(messages)
        self.closed = False

    def fileno(self) -> int:
        return 99

    def close(self) -> None:
        self.closed = True


class FakeRaw:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        self.sent.append((bytes(data), address))
        return len(data)


def verdicts(data: bytes) -> list[tuple[int, int, int]]:
    """(message type, verdict, id) of each message in a verdict write."""
    found = []
    for msg_type, offset, _end in codec.iter_messages(data, len(data)):
        decision, packet_id = struct.unpack_from(">II", data, offset + 24)
        found.append((msg_type, decision, packet_id))
    return found


def server(
    spec: QueueSpec, messages: list[bytes]
) -> tuple[EgressServer | IngressServer, FakeQueue, FakeRaw, Scheduler]:
    queue, raw, sched = FakeQueue(messages), FakeRaw(), Scheduler()
    made = make_server(
        spec, cast(NfQueue, queue), cast(socket.socket, raw), sched, "t", random.Random(1)
    )
    assert isinstance(made, EgressServer | IngressServer)
    return made, queue, raw, sched


def test_egress_drops_originals_in_one_batch_and_resends_copies_when_due() -> None:
    packets = [ipv4(bytes([i]) * 10) for i in range(3)]
    srv, queue, raw, sched = server(
        QueueSpec(num=1, delay=0.1), [packet_message(1, 10 + i, p) for i, p in enumerate(packets)]
    )
    srv.on_readable()
    assert [verdicts(d) for d in queue.sock.sent] == [
        [(netlink.VERDICT_BATCH_TYPE, netlink.NF_DROP, 12)]
    ]
    assert raw.sent == [] and len(sched) == 3
    sched.run_due(float("inf"))
    assert raw.sent == [(p, ("10.203.1.2", 0)) for p in packets]
    assert srv.counters.as_dict()["sent"] == 3


def test_egress_without_delay_sends_at_once_and_non_ipv4_passes() -> None:
    v6 = b"\x60" + bytes(47)
    srv, queue, raw, sched = server(
        QueueSpec(num=1), [packet_message(1, 1, ipv4(b"a")), packet_message(1, 2, v6)]
    )
    srv.on_readable()
    assert len(raw.sent) == 1 and len(sched) == 0
    assert verdicts(queue.sock.sent[0]) == [
        (netlink.VERDICT_TYPE, netlink.NF_ACCEPT, 2),
        (netlink.VERDICT_BATCH_TYPE, netlink.NF_DROP, 2),
    ]


def test_egress_duplicate_schedules_two_copies() -> None:
    srv, _queue, raw, sched = server(
        QueueSpec(num=1, delay=0.01, duplicate=1.0), [packet_message(1, 1, ipv4(b"a"))]
    )
    srv.on_readable()
    sched.run_due(float("inf"))
    assert len(raw.sent) == 2 and srv.counters.duplicated == 1


def test_ingress_holds_the_verdict_until_due() -> None:
    srv, queue, raw, sched = server(
        QueueSpec(num=2, mode="ingress", delay=0.1), [packet_message(2, 5, ipv4(b"a"))]
    )
    srv.on_readable()
    assert queue.sock.sent == [] and len(sched) == 1
    sched.run_due(float("inf"))
    srv.flush()
    assert verdicts(queue.sock.sent[0]) == [(netlink.VERDICT_TYPE, netlink.NF_ACCEPT, 5)]
    assert raw.sent == []


def test_ingress_loss_drops_and_corrupt_rides_on_the_verdict() -> None:
    srv, queue, _raw, _sched = server(
        QueueSpec(num=2, mode="ingress", loss=1.0), [packet_message(2, 5, ipv4(b"a"))]
    )
    srv.on_readable()
    assert verdicts(queue.sock.sent[0]) == [(netlink.VERDICT_TYPE, netlink.NF_DROP, 5)]

    original = ipv4(bytes(30))
    srv, queue, _raw, _sched = server(
        QueueSpec(num=2, mode="ingress", corrupt=1.0), [packet_message(2, 6, original)]
    )
    srv.on_readable()
    data = queue.sock.sent[0]
    assert netlink.NFQA_PAYLOAD in {struct.unpack_from("=H", data, pos + 2)[0] for pos in (32,)}
    changed = data[36 : 36 + len(original)]
    assert changed != original and changed[:20] == original[:20]


def test_close_releases_held_packets_first() -> None:
    srv, queue, raw, sched = server(QueueSpec(num=1, delay=5.0), [packet_message(1, 1, ipv4(b"a"))])
    srv.on_readable()
    srv.close()
    assert len(raw.sent) == 1 and len(sched) == 0 and queue.closed
