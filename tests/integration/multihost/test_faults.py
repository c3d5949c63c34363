"""Faults across hosts, measured by traffic: a delay to a peer on another host by ping,
partitions and one-way cuts both ways. Twice: on engines proved to run on this kernel
(`agent: auto` with their local sockets: namespaces entered directly), and through each
host's agent (`agent: always`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.cli_runner import SquallRunner
from tests.integration.multihost.cluster import agents, leftovers, median_rtt, reaches, write_file
from tests.integration.multihost.engines import Engines

PROJECT = "mhfault"


BOTH = pytest.mark.parametrize("squall", ["auto", "always"], indirect=True)
DIRECT = pytest.mark.parametrize("squall", ["auto"], indirect=True)


@pytest.fixture(scope="module")
def squall(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, engines: Engines
) -> Iterator[SquallRunner]:
    mode = str(request.param)
    folder = tmp_path_factory.mktemp("mh")
    runner = SquallRunner(write_file(folder, engines, agent=mode, unix=True), PROJECT)
    try:
        runner("up")
        yield runner
    finally:
        runner("down", check=False)
    assert leftovers(engines, PROJECT) == {}
    assert agents(engines, PROJECT) == []


@BOTH
def test_delay_to_a_peer_on_another_host(squall: SquallRunner) -> None:
    try:
        squall("shape", "a", "--delay", "100ms", "--to", "b")
        assert 95.0 <= median_rtt(squall, "a", "b") <= 105.0
        assert median_rtt(squall, "a", "c", count=5) < 10.0  # another peer untouched
    finally:
        squall("fast", "--all")
    assert median_rtt(squall, "a", "b", count=5) < 10.0


@BOTH
def test_partition_across_hosts_both_ways(squall: SquallRunner) -> None:
    try:
        squall("partition", "a,c", "b")
        assert not reaches(squall, "a", "b") and not reaches(squall, "b", "a")
        assert not reaches(squall, "c", "b") and not reaches(squall, "b", "c")
        assert reaches(squall, "a", "c") and reaches(squall, "c", "a")
    finally:
        squall("join")
    assert reaches(squall, "a", "b") and reaches(squall, "b", "c")


@DIRECT
def test_one_way_across_hosts(squall: SquallRunner) -> None:
    try:
        squall("partition", "--one-way", "a", "b")
        assert not reaches(squall, "a", "b")
        assert reaches(squall, "b", "a")  # b's own connections still get their replies
        assert reaches(squall, "a", "c")
    finally:
        squall("join")
    assert reaches(squall, "a", "b")


@DIRECT
def test_status_names_each_host(squall: SquallRunner) -> None:
    table = squall("status").stdout
    header = next(line for line in table.splitlines() if line.startswith("SERVICE"))
    assert header.split()[:2] == ["SERVICE", "HOST"]
    rows = {
        line.split()[0]: line.split()[1]
        for line in table.splitlines()
        if line[:2] in ("a ", "b ", "c ")
    }
    assert rows == {"a": "h1", "b": "h2", "c": "h3"}


@BOTH
def test_the_agent_runs_only_with_agent_always(squall: SquallRunner, engines: Engines) -> None:
    """Faults were applied above: through agents on every host, or through none."""
    text = squall.file.read_text()
    expected = ["h1", "h2", "h3"] if "agent: always" in text else []
    assert agents(engines, PROJECT) == expected
