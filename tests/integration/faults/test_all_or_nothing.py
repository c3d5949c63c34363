"""A fault change that fails at any step changes nothing, proven by traffic.

A netns cluster (a, b; no images, fast) holds a fault; a change is then made to fail
at each of its kernel commands in turn (the runner's `FailAt` hook: the command runs,
then reports failure, as a `tc -batch` that stopped half way). After each failure the
error says nothing changed, the record still holds the old fault, the kernel matches
it (`status` finds no drift), and traffic shows it in force: a 20 ms delay by ping's
round trips, a partition by UDP and ICMP counted on the receiving side, both ways.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from squall.errors import FaultRolledBack
from squall.faults.desired import DesiredFaults
from squall.faults.model import Shape
from squall.faults.partition import groups_partition
from squall.linux.commands import FailAt, Runner
from squall.runtime.base import Waits
from squall.runtime.netns.backend import NetnsBackend
from squall.session import ClusterRef, Session
from squall.spec.loader import load_cluster
from squall.units import parse_duration, parse_rate
from tests.integration.traffic import icmp_delivered, ping_rtts, udp_delivered

IDLE = """["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]"""
COMPOSE = f"""\
services:
  a: {{image: x, command: {IDLE}}}
  b: {{image: x, command: {IDLE}}}
"""
Change = Callable[[Session], object]


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    if os.geteuid() != 0 or not shutil.which("iptables-restore"):
        pytest.skip("needs root and iptables")
    project = f"sqa{secrets.token_hex(3)}"
    file = tmp_path / "compose.yaml"
    file.write_text(COMPOSE)
    backend = NetnsBackend(tmp_path / "state", Waits(stop=3))
    session = Session.create(
        ClusterRef(project, load_cluster(file, project=project)), backend, tmp_path / "state"
    )
    session.up()
    try:
        yield session
    finally:
        session.down()


def where(session: Session, service: str) -> tuple[str, str]:
    """A running service's namespace path and address."""
    state = next(s for s in session.status() if s.service == service)
    assert state.netns and state.addresses[0].ip, state
    return state.netns, state.addresses[0].ip


def delay_holds(session: Session) -> None:
    a, _ = where(session, "a")
    _, b_ip = where(session, "b")
    rtts = ping_rtts(a, b_ip)
    assert len(rtts) == 5 and statistics.median(rtts) >= 19.5, rtts


def partition_holds(session: Session) -> None:
    (a, a_ip), (b, b_ip) = where(session, "a"), where(session, "b")
    counts = {
        "udp a->b": udp_delivered(a, b, b_ip),
        "udp b->a": udp_delivered(b, a, a_ip),
        "icmp a->b": icmp_delivered(a, b, b_ip),
        "icmp b->a": icmp_delivered(b, a, a_ip),
    }
    assert counts == dict.fromkeys(counts, 0), counts


def delay_a_to_b(session: Session) -> object:
    return session.shape(["a"], Shape(delay=parse_duration("20ms")), to_services=["b"])


def rate_a_to_b(session: Session) -> object:
    """Replaces the delay (same target): queue rules go, an htb class comes."""
    return session.shape(["a"], Shape(rate=parse_rate("1mbit")), to_services=["b"])


def cut_a_from_b(session: Session) -> object:
    return session.partition(groups_partition([["a"], ["b"]]))


def join(session: Session) -> object:
    """Heals the partition: iptables in both namespaces."""
    return session.join()


def slow_b(session: Session) -> object:
    """Keeps the partition, adds queue rules, an htb class and a shaper queue in b."""
    return session.shape(["b"], Shape(delay=parse_duration("5ms"), rate=parse_rate("50mbit")))


def failing(session: Session, hook: FailAt) -> Session:
    return dataclasses.replace(session, runner=Runner(fail=hook))


def commands_of(session: Session, before: Change, change: Change) -> int:
    """How many kernel commands `change` runs after `before`, undone afterwards."""
    before(session)
    counter = FailAt(0)
    change(failing(session, counter))
    session.heal()
    return counter.ran


@pytest.mark.parametrize(
    ("before", "change", "holds"),
    [
        (delay_a_to_b, rate_a_to_b, delay_holds),
        (cut_a_from_b, join, partition_holds),
        (cut_a_from_b, slow_b, partition_holds),
    ],
    ids=["delay-then-rate", "partition-then-join", "partition-then-shape"],
)
def test_every_failed_step_leaves_the_fault_in_force(
    session: Session, before: Change, change: Change, holds: Callable[[Session], None]
) -> None:
    steps = commands_of(session, before, change)
    assert steps >= 2, steps
    before(session)
    holds(session)
    recorded = session.desired_faults().to_json()
    for nth in range(1, steps + 1):
        with pytest.raises(FaultRolledBack, match="nothing changed"):
            change(failing(session, FailAt(nth)))
        assert session.desired_faults().to_json() == recorded, f"step {nth}"
        status = session.cluster_status(read_kernel=True)
        assert [s.faults.drift for s in status.services] == [(), ()], f"step {nth}"
        holds(session)
    last = session.events()[-1]
    assert last.error and "nothing changed" in last.error


def test_a_refused_value_touches_nothing(session: Session) -> None:
    """The issue's case: a rate tc cannot hold is refused before the kernel, dry or not."""
    delay_a_to_b(session)
    counter = FailAt(0)
    huge = parse_rate("99999999999999999999tbit")
    for dry_run in (True, False):
        with pytest.raises(Exception, match=r"--rate 99999999999999999999tbit: at most 1000tbit"):
            failing(session, counter).shape(
                ["a"], Shape(rate=huge), to_services=["b"], dry_run=dry_run
            )
    assert counter.ran == 0
    assert DesiredFaults.load(session.state.path).shapes["a"][0].shape.delay == parse_duration(
        "20ms"
    )
    delay_holds(session)
