"""One queue in one namespace: read its packets, apply the policy, let them go later.

Egress queues copy each packet, drop the original at once (one batch verdict per read
burst) and re-send the copy through the namespace's raw socket when due: the sender's
TCP sees its skb freed immediately, so small-queue accounting does not throttle it.
Ingress queues hold the verdict itself and accept when due (changed bytes ride on the
verdict for corruption; a duplicate is injected through the raw socket).
"""

from __future__ import annotations

import errno
import logging
import random
import socket
import time

from squall.faults.shaper import netlink, packets
from squall.faults.shaper.netlink import NfQueue
from squall.faults.shaper.policy import Policy
from squall.faults.shaper.scheduler import Scheduler
from squall.faults.shaper.status import COUNTER_NAMES, QueueReport
from squall.faults.shaper_config import QueueSpec
from squall.linux.netlink import HEADER, LENGTH_AND_TYPE, NLMSG_ERROR, error_code

log = logging.getLogger(__name__)

READ_BUDGET = 64
"""Messages read from one queue before the loop looks at timers and other queues."""
_BUFFER = 1 << 18
_FRAGMENT_MTUS = (1500, 1280, 576)


class Counters:
    """Cheap integer counters for the status report (names as in `COUNTER_NAMES`)."""

    __slots__ = COUNTER_NAMES

    def __init__(self) -> None:
        self.received = 0
        self.sent = 0
        self.dropped = 0
        self.duplicated = 0
        self.corrupted = 0
        self.reordered = 0
        self.overruns = 0
        self.errors = 0

    def as_dict(self) -> dict[str, int]:
        return {name: int(getattr(self, name)) for name in COUNTER_NAMES}


class QueueServer:
    """Shared reading loop; subclasses say what a packet and a release mean."""

    mode = ""

    def __init__(
        self,
        spec: QueueSpec,
        nfq: NfQueue,
        raw: socket.socket | None,
        scheduler: Scheduler,
        label: str,
        rng: random.Random,
    ) -> None:
        self.spec = spec
        self.nfq = nfq
        self.num = spec.num
        self.raw = raw
        self.label = label
        self.counters = Counters()
        self.closed = False
        self._scheduler = scheduler
        self._rng = rng
        self._policy = Policy(spec, rng)
        self._buf = bytearray(_BUFFER)
        self._view = memoryview(self._buf)
        self._verdicts: list[bytes] = []
        self._logged_errors = 0

    def update(self, spec: QueueSpec) -> None:
        """New parameters for packets from now on; held packets keep their due times."""
        if spec != self.spec:
            self.spec = spec
            self._policy = Policy(spec, self._rng)

    def report(self) -> QueueReport:
        return QueueReport(self.num, self.mode, self.counters.as_dict())

    def fileno(self) -> int:
        return self.nfq.fileno()

    def on_readable(self) -> None:
        """Read up to READ_BUDGET messages, handle each, then send the verdicts."""
        sock = self.nfq.sock
        buf = self._buf
        view = self._view
        head = LENGTH_AND_TYPE.unpack_from
        header = HEADER.size
        parse = netlink.parse_packet
        handle = self._handle
        last_id = -1
        for _ in range(READ_BUDGET):
            try:
                size = sock.recv_into(buf)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.counters.overruns += 1  # those packets went through unshaped
                    continue
                self._error(f"cannot read the queue: {exc}")
                break
            now = time.monotonic()
            offset = 0
            while offset + header <= size:
                length, msg_type = head(buf, offset)
                if length < header:
                    break
                if msg_type == netlink.PACKET_TYPE:
                    packet_id, start, stop = parse(buf, offset, offset + length)
                    if packet_id >= 0:
                        handle(packet_id, view[start:stop], now)
                        # ids arrive in increasing order (mod 2**32, as the kernel
                        # compares them), so the last one seen covers the burst
                        last_id = packet_id
                elif msg_type == NLMSG_ERROR:
                    self._kernel_error(error_code(buf, offset))
                offset += (length + 3) & ~3  # netlink.align, inlined: the hot loop
        self._finish_burst(last_id)

    def flush(self) -> None:
        """Send the verdicts gathered so far, many messages in one write."""
        if not self._verdicts or self.closed:
            self._verdicts.clear()
            return
        data = b"".join(self._verdicts)
        self._verdicts.clear()
        try:
            self.nfq.sock.send(data)
        except OSError as exc:
            self._error(f"cannot send verdicts: {exc}")

    def close(self) -> None:
        """Release everything held now (accept / send), then close the socket."""
        if self.closed:
            return
        self._scheduler.release_all(self)
        self.flush()
        self.closed = True
        self.nfq.close()

    def _finish_burst(self, last_id: int) -> None:
        self.flush()

    def _handle(self, packet_id: int, payload: memoryview, now: float) -> None:
        raise NotImplementedError

    def release(self, item: object) -> None:
        raise NotImplementedError

    def _send(self, data: bytes | memoryview) -> None:
        """Re-send an IPv4 packet through the raw socket, splitting it if it must."""
        assert self.raw is not None
        try:
            self.raw.sendto(data, (packets.destination(data), 0))
            self.counters.sent += 1
        except OSError as exc:
            if exc.errno == errno.EMSGSIZE:
                self._send_fragments(bytes(data))
            else:
                self._error(f"cannot re-send a packet: {exc}")

    def _send_fragments(self, data: bytes) -> None:
        assert self.raw is not None
        for mtu in _FRAGMENT_MTUS:
            try:
                pieces = packets.fragment(data, mtu)
            except ValueError as exc:
                self._error(f"cannot re-send a {len(data)}-byte packet: {exc}")
                return
            try:
                for piece in pieces:
                    self.raw.sendto(piece, (packets.destination(piece), 0))
            except OSError as exc:
                if exc.errno == errno.EMSGSIZE:
                    continue
                self._error(f"cannot re-send a fragment: {exc}")
                return
            self.counters.sent += 1
            return

    def _kernel_error(self, code: int) -> None:
        if code:
            self._error(f"kernel refused a verdict: {errno.errorcode.get(code, code)}")

    def _error(self, text: str) -> None:
        self.counters.errors += 1
        self._logged_errors += 1
        if self._logged_errors <= 10 or self._logged_errors % 1000 == 0:
            log.warning(
                "%s queue %d: %s (%d errors so far)",
                self.label,
                self.num,
                text,
                self._logged_errors,
            )


class EgressServer(QueueServer):
    """Copy, drop the original now, re-send the copy through the raw socket when due."""

    mode = "egress"

    def _handle(self, packet_id: int, payload: memoryview, now: float) -> None:
        counters = self.counters
        counters.received += 1
        if len(payload) < 20 or payload[0] >> 4 != 4:
            # Not IPv4 (the raw socket could not re-send it): let it through unshaped,
            # before the batch drop that follows covers its id.
            self._verdicts.append(netlink.verdict(self.num, packet_id, netlink.NF_ACCEPT))
            return
        fixed = self._policy.fixed_delay
        if fixed is not None:
            if fixed <= 0.0:
                self._send(payload)
            else:
                self._scheduler.push(now + fixed, self, bytes(payload))
            return
        copies, delay, corrupt = self._policy.decide()
        if copies == 0:
            counters.dropped += 1
            return
        data = bytes(payload)
        if corrupt:
            data = packets.corrupt(data, self._rng)
            counters.corrupted += 1
        if copies > 1:
            counters.duplicated += 1
        if delay <= 0.0:
            if self.spec.reorder and self.spec.delay:
                counters.reordered += 1
            for _ in range(copies):
                self._send(data)
        else:
            for _ in range(copies):
                self._scheduler.push(now + delay, self, data)

    def _finish_burst(self, last_id: int) -> None:
        if last_id >= 0:
            self._verdicts.append(netlink.verdict_batch(self.num, last_id, netlink.NF_DROP))
        self.flush()

    def release(self, item: object) -> None:
        if not self.closed:
            assert isinstance(item, bytes)
            self._send(item)


class IngressServer(QueueServer):
    """Hold the verdict and accept when due; the packet itself stays in the kernel."""

    mode = "ingress"

    def _handle(self, packet_id: int, payload: memoryview, now: float) -> None:
        counters = self.counters
        counters.received += 1
        fixed = self._policy.fixed_delay
        if fixed is not None:
            if fixed <= 0.0:
                self._accept(packet_id, None)
            else:
                self._scheduler.push(now + fixed, self, (packet_id, None, None))
            return
        copies, delay, corrupt = self._policy.decide()
        if copies == 0:
            counters.dropped += 1
            self._verdicts.append(netlink.verdict(self.num, packet_id, netlink.NF_DROP))
            return
        changed = None
        if corrupt:
            changed = packets.corrupt(bytes(payload), self._rng)
            counters.corrupted += 1
        duplicate = None
        if copies > 1 and self.raw is not None and packets.is_ipv4(payload):
            duplicate = bytes(payload) if changed is None else changed
            counters.duplicated += 1
        if delay <= 0.0:
            if self.spec.reorder and self.spec.delay:
                counters.reordered += 1
            self._accept(packet_id, changed)
            if duplicate is not None:
                self._send(duplicate)
        else:
            self._scheduler.push(now + delay, self, (packet_id, changed, duplicate))

    def _accept(self, packet_id: int, changed: bytes | None) -> None:
        self._verdicts.append(
            netlink.verdict(self.num, packet_id, netlink.NF_ACCEPT, payload=changed)
        )
        self.counters.sent += 1

    def release(self, item: object) -> None:
        if self.closed:
            return
        assert isinstance(item, tuple)
        packet_id, changed, duplicate = item
        self._accept(packet_id, changed)
        if duplicate is not None:
            self._send(duplicate)


def make_server(
    spec: QueueSpec,
    nfq: NfQueue,
    raw: socket.socket | None,
    scheduler: Scheduler,
    label: str,
    rng: random.Random,
) -> QueueServer:
    cls = EgressServer if spec.mode == "egress" else IngressServer
    return cls(spec, nfq, raw, scheduler, label, rng)


__all__ = ["Counters", "EgressServer", "IngressServer", "QueueServer", "make_server"]
