"""The hosts a cluster was brought up on, kept for `down -p` and the detached processes;
and which containers go through their host's agent."""

from __future__ import annotations

from pathlib import Path

from squall.runtime.base import ServiceState
from squall.runtime.swarm.backend import _on_host
from squall.runtime.swarm.record import load_hosts, save_hosts
from squall.spec.model import HostSpec, TlsFiles

HOSTS = (
    HostSpec("h1", "unix:///var/run/docker.sock"),
    HostSpec(
        "h2",
        "tcp://10.0.0.2:2376",
        tls=TlsFiles(ca="/p/ca.pem", cert="/p/c.pem", key="/p/k.pem"),
        address="10.0.0.2",
        agent="always",
    ),
)


def test_hosts_survive_the_record(tmp_path: Path) -> None:
    save_hosts(tmp_path / "state", HOSTS)
    assert load_hosts(tmp_path / "state") == HOSTS


def test_no_record_or_a_broken_one_is_no_hosts(tmp_path: Path) -> None:
    assert load_hosts(tmp_path) == ()
    (tmp_path / "hosts.json").write_text("{not json")
    assert load_hosts(tmp_path) == ()


def test_agent_always_or_an_unproved_container_goes_through_the_hosts_agent() -> None:
    here = ServiceState("a", "p-a-1", "abc", "running", pid=5, netns="/proc/5/ns/net")
    assert _on_host(here, HOSTS[0]).agent is None and _on_host(here, HOSTS[0]).host == "h1"
    assert _on_host(here, HOSTS[1]).agent == "h2"
    elsewhere = ServiceState(
        "b", "p-b-1", "def", "running", pid=9, netns="/proc/9/ns/net", agent="tcp://x:1"
    )
    assert _on_host(elsewhere, HOSTS[0]).agent == "h1"
    stopped = ServiceState("c", "p-c-1", "0ab", "exited")
    assert _on_host(stopped, HOSTS[1]).agent is None
