"""`squall probe`: measure what the network between services really does.

Squall sends the probes itself, from inside each service's network namespace, so the
images need no tools: a socket belongs for its whole life to the namespace it was
created in, so this process enters a service's namespace (`setns`, one thread),
opens a socket there and comes home. For each pair it opens

- a UDP echo responder in the target's namespace (for the probe's duration only), and
- a UDP socket in the source's namespace that sends numbered, timestamped datagrams
  to the target's address on each network they share, and reads the echoes.

So each figure is a round trip, like ping's: a delay on either side's egress shows in
both directions' RTT, and egress loss on one side shows as loss in both directions.
The probes pass through the very iptables rules, queues and qdiscs the faults set up.
`--throughput` also streams TCP from source to target for a moment and counts bytes.

Needs root (CAP_SYS_ADMIN) to enter namespaces; services on another kernel (reached
through their host's agent) are not probed from here.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import selectors
import socket
import struct
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from squall.errors import ProbeError
from squall.faults.model import Partition
from squall.faults.partition import reachable
from squall.linux.netns import entered
from squall.runtime.base import ServiceState

_HEADER = struct.Struct("!4sIHHQ")
_MAGIC = b"SQPR"
PAYLOAD_BYTES = 64
DEFAULT_COUNT = 20
DEFAULT_INTERVAL = 0.01
DEFAULT_TIMEOUT = 2.0
DEFAULT_THROUGHPUT_SECONDS = 0.5


@dataclass(frozen=True)
class PairResult:
    """Probes from `src` to `dst`'s address on one network they share."""

    src: str
    dst: str
    network: str
    address: str
    sent: int
    received: int
    rtts_ms: tuple[float, ...] = ()
    duplicates: int = 0
    partitioned: bool = False
    """The partition in force says `src` cannot reach `dst`."""
    throughput_mbit: float | None = None
    throughput_error: str | None = None

    @property
    def loss(self) -> float:
        """Fraction of probes without an echo, 0.0 .. 1.0."""
        return 1.0 - self.received / self.sent if self.sent else 0.0

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.rtts_ms, 50)

    @property
    def p99_ms(self) -> float | None:
        return percentile(self.rtts_ms, 99)

    @property
    def cut(self) -> bool:
        """No probe came back."""
        return self.sent > 0 and self.received == 0

    @property
    def agrees(self) -> bool:
        """A partitioned pair is cut and an unpartitioned one is not."""
        return self.partitioned == self.cut

    def to_dict(self) -> dict[str, Any]:
        def ms(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {
            "src": self.src,
            "dst": self.dst,
            "network": self.network,
            "address": self.address,
            "sent": self.sent,
            "received": self.received,
            "loss": round(self.loss, 4),
            "duplicates": self.duplicates,
            "rtt_p50_ms": ms(self.p50_ms),
            "rtt_p99_ms": ms(self.p99_ms),
            "rtt_min_ms": ms(min(self.rtts_ms, default=None)),
            "rtt_max_ms": ms(max(self.rtts_ms, default=None)),
            "partitioned": self.partitioned,
            "throughput_mbit": None
            if self.throughput_mbit is None
            else round(self.throughput_mbit, 2),
            "throughput_error": self.throughput_error,
        }


@dataclass(frozen=True)
class ProbeReport:
    project: str
    pairs: tuple[PairResult, ...]
    count: int
    services: tuple[str, ...] = ()
    """Running services probed, in order (the matrix's rows and columns)."""

    def between(self, src: str, dst: str) -> list[PairResult]:
        """Every network's result for `src` -> `dst` (empty: they share no network)."""
        return [p for p in self.pairs if p.src == src and p.dst == dst]

    def pair(self, src: str, dst: str) -> PairResult:
        """The first network's result for `src` -> `dst`.

        Raises:
            ProbeError: the two share no network (or one was not probed).
        """
        found = self.between(src, dst)
        if not found:
            raise ProbeError(f"no probe from {src} to {dst}: they share no network")
        return found[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "count": self.count,
            "services": list(self.services),
            "pairs": [p.to_dict() for p in self.pairs],
        }


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


@dataclass(frozen=True)
class _Target:
    src: ServiceState
    dst: ServiceState
    network: str
    address: str


def plan_pairs(services: Sequence[ServiceState], only: Collection[str] = ()) -> list[_Target]:
    """Ordered pairs of running services on each IPv4 network they share.

    With `only`, pairs that start or end at one of those services.
    """
    running = [s for s in services if _probed(s)]
    targets = []
    for src in running:
        src_nets = {a.network for a in src.addresses if a.ip}
        for dst in running:
            if dst.member == src.member:
                continue
            if only and not {src.service, src.member, dst.service, dst.member} & set(only):
                continue
            for addr in dst.addresses:
                if addr.network in src_nets and addr.ip and _ipv4(addr.ip):
                    targets.append(_Target(src, dst, addr.network, addr.ip))
    return targets


def _ipv4(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).version == 4
    except ValueError:
        return False


def _socket_in(netns: str, kind: int) -> socket.socket:
    """A socket that lives in the namespace at `netns`, bound to an ephemeral port."""
    try:
        with entered(netns):
            sock = socket.socket(socket.AF_INET, kind)
    except PermissionError as exc:
        raise ProbeError(f"cannot enter {netns}: probing needs root") from exc
    except OSError as exc:
        raise ProbeError(f"cannot open a socket in {netns}: {exc.strerror or exc}") from exc
    sock.bind(("0.0.0.0", 0))
    sock.setblocking(False)
    return sock


@dataclass
class _PairState:
    target: _Target
    sent: int = 0
    rtts: dict[int, float] = field(default_factory=dict)
    duplicates: int = 0


def _udp_round(
    targets: Sequence[_Target], count: int, interval: float, timeout: float
) -> list[_PairState]:
    """Send `count` probes per pair, `interval` apart, all pairs at once; read echoes."""
    nonce = secrets.randbits(32)
    states = [_PairState(t) for t in targets]
    sel = selectors.DefaultSelector()
    sockets: list[socket.socket] = []
    try:
        responders: dict[str, tuple[socket.socket, int]] = {}
        senders: dict[str, socket.socket] = {}
        for t in targets:
            for service, is_dst in ((t.dst, True), (t.src, False)):
                table: dict[str, Any] = responders if is_dst else senders
                if service.member in table:
                    continue
                assert service.netns is not None
                sock = _socket_in(service.netns, socket.SOCK_DGRAM)
                sockets.append(sock)
                if is_dst:
                    responders[service.member] = (sock, sock.getsockname()[1])
                    sel.register(sock, selectors.EVENT_READ, "echo")
                else:
                    senders[service.member] = sock
                    sel.register(sock, selectors.EVENT_READ, "reply")
        start = time.monotonic()
        # Every pair sends on the same clock, spread within one interval.
        spread = interval / max(1, len(states))
        schedule = sorted(
            (start + i * spread + n * interval, i, n)
            for i in range(len(states))
            for n in range(count)
        )
        last_send = schedule[-1][0] if schedule else start
        deadline = last_send + timeout
        next_send = 0
        while True:
            now = time.monotonic()
            while next_send < len(schedule) and schedule[next_send][0] <= now:
                _, i, n = schedule[next_send]
                next_send += 1
                state = states[i]
                payload = _HEADER.pack(_MAGIC, nonce, i, n, time.monotonic_ns())
                payload = payload.ljust(PAYLOAD_BYTES, b"\0")
                port = responders[state.target.dst.member][1]
                with contextlib.suppress(OSError):  # EPERM etc.: counts as lost
                    senders[state.target.src.member].sendto(payload, (state.target.address, port))
                state.sent += 1
            done = next_send == len(schedule) and all(len(s.rtts) >= s.sent for s in states)
            if done or now >= deadline:
                break
            wake = schedule[next_send][0] if next_send < len(schedule) else deadline
            for key, _ in sel.select(timeout=max(0.0, min(wake, deadline) - now)):
                ready = key.fileobj
                assert isinstance(ready, socket.socket)
                _drain(ready, key.data == "echo", nonce, states)
        return states
    finally:
        sel.close()
        for sock in sockets:
            sock.close()


def _drain(sock: socket.socket, echo: bool, nonce: int, states: list[_PairState]) -> None:
    while True:
        try:
            data, peer = sock.recvfrom(2048)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        arrived = time.monotonic_ns()
        if len(data) < _HEADER.size:
            continue
        magic, got_nonce, index, seq, sent_ns = _HEADER.unpack_from(data)
        if magic != _MAGIC or got_nonce != nonce or index >= len(states):
            continue
        if echo:
            with contextlib.suppress(OSError):
                sock.sendto(data, peer)
            continue
        state = states[index]
        if seq in state.rtts:
            state.duplicates += 1
        else:
            state.rtts[seq] = (arrived - sent_ns) / 1e6


def _throughput(target: _Target, seconds: float) -> tuple[float | None, str | None]:
    """Stream TCP from source to target for `seconds`; Mbit/s as the target counted it."""
    assert target.src.netns is not None and target.dst.netns is not None
    listener = _socket_in(target.dst.netns, socket.SOCK_STREAM)
    client = _socket_in(target.src.netns, socket.SOCK_STREAM)
    try:
        listener.setblocking(True)
        listener.listen(1)
        listener.settimeout(2.0)
        port = listener.getsockname()[1]
        client.setblocking(True)
        client.settimeout(2.0)
        try:
            client.connect((target.address, port))
            conn, _ = listener.accept()
        except OSError as exc:
            return None, f"no TCP connection: {exc.strerror or exc}"
        stop_at = time.monotonic() + seconds
        chunk = b"\0" * 65536

        def send() -> None:
            try:
                while time.monotonic() < stop_at:
                    client.sendall(chunk)
                client.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        sender = threading.Thread(target=send, name="squall-probe-tcp", daemon=True)
        received = 0
        with conn:
            conn.settimeout(max(2.0, seconds * 4))
            buffer = bytearray(262144)
            started = time.monotonic()
            sender.start()
            try:
                while True:
                    n = conn.recv_into(buffer)
                    if n == 0:
                        break
                    received += n
            except OSError as exc:
                return None, f"stream broke: {exc.strerror or exc}"
            elapsed = time.monotonic() - started
        sender.join(timeout=seconds + 5)
        return received * 8 / max(elapsed, 1e-6) / 1e6, None
    finally:
        client.close()
        listener.close()


def probe(
    project: str,
    services: Sequence[ServiceState],
    *,
    partition: Partition | None = None,
    only: Collection[str] = (),
    count: int = DEFAULT_COUNT,
    interval: float = DEFAULT_INTERVAL,
    timeout: float = DEFAULT_TIMEOUT,
    throughput_seconds: float | None = None,
) -> ProbeReport:
    """Measure RTT and loss (and with `throughput_seconds`, TCP throughput) per pair.

    Raises:
        ProbeError: not root, a namespace is gone, or `count` is not positive.
    """
    if count < 1:
        raise ProbeError("--count must be at least 1")
    if os.geteuid() != 0:
        raise ProbeError("probing enters the services' network namespaces: it needs root")
    targets = plan_pairs(services, only)
    states = _udp_round(targets, count, interval, timeout) if targets else []
    cut = partition or Partition()
    results = []
    for state in states:
        t = state.target
        mbit, err = _throughput(t, throughput_seconds) if throughput_seconds else (None, None)
        results.append(
            PairResult(
                src=t.src.member,
                dst=t.dst.member,
                network=t.network,
                address=t.address,
                sent=state.sent,
                received=len(state.rtts),
                rtts_ms=tuple(state.rtts[k] for k in sorted(state.rtts)),
                duplicates=state.duplicates,
                partitioned=not reachable(cut, t.src.member, t.dst.member),
                throughput_mbit=mbit,
                throughput_error=err,
            )
        )
    names = tuple(s.member for s in services if _probed(s))
    return ProbeReport(project, tuple(results), count, names)


def _probed(state: ServiceState) -> bool:
    """Running with a namespace on this kernel: one reached through an agent lives on
    another, and entering its path here would probe some other process."""
    return state.state == "running" and state.netns is not None and state.agent is None


def iter_cells(report: ProbeReport) -> Iterator[tuple[str, str, list[PairResult]]]:
    """(src, dst, results) for every ordered pair of probed services, row by row."""
    for src in report.services:
        for dst in report.services:
            yield src, dst, report.between(src, dst)


__all__ = [
    "DEFAULT_COUNT",
    "PairResult",
    "ProbeReport",
    "iter_cells",
    "percentile",
    "plan_pairs",
    "probe",
]
