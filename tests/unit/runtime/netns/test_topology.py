"""The topology of a netns cluster as data: read back from labels, subnets, hosts files."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from squall.errors import BackendError
from squall.runtime.netns import naming
from squall.runtime.netns.topology import (
    AttachmentPlan,
    HostsExtras,
    NetworkPlan,
    Topology,
    free_subnet,
    hosts_file,
    resolv_conf,
)


def _topology() -> Topology:
    net = NetworkPlan("front", "sqxn0", IPv4Network("10.9.0.0/24"), IPv4Address("10.9.0.1"))
    back = NetworkPlan(
        "back", "sqxn1", IPv4Network("10.9.1.0/24"), IPv4Address("10.9.1.1"), internal=True
    )
    attachments = (
        AttachmentPlan("a", "front", "sqxv0", "eth0", IPv4Address("10.9.0.2"), 24),
        AttachmentPlan("a", "back", "sqxv1", "eth1", IPv4Address("10.9.1.2"), 24),
        AttachmentPlan("b", "front", "sqxv2", "eth0", IPv4Address("10.9.0.3"), 24, ("web",)),
        AttachmentPlan("c", "back", "sqxv3", "eth0", IPv4Address("10.9.1.3"), 24),
    )
    return Topology("p", (back, net), attachments, ("a", "b", "c"))


def test_topology_is_read_back_from_link_labels() -> None:
    topology = _topology()
    links = [{"ifname": n.bridge, "ifalias": n.label("p")} for n in topology.networks]
    links += [{"ifname": a.host_if, "ifalias": a.label("p")} for a in topology.attachments]
    links = [
        {**link, "ifname": link["ifname"].replace("sqx", naming.link_prefix("p"))} for link in links
    ]
    links.append({"ifname": naming.link_prefix("p") + "v9", "ifalias": "squall p=other"})
    found = Topology.from_kernel("p", links, ["squall-p.a", "squall-q.z"])
    assert [n.name for n in found.networks] == ["back", "front"]
    assert found.network("back") is not None and found.network("back").internal  # type: ignore[union-attr]
    assert [(a.service, a.network, str(a.ip)) for a in found.of_service("a")] == [
        ("a", "front", "10.9.0.2"),
        ("a", "back", "10.9.1.2"),
    ]
    assert found.namespaces == ("a",)


def test_hosts_files_name_only_services_on_shared_networks() -> None:
    topology = _topology()
    hosts_b = hosts_file("b", topology, HostsExtras())
    assert "10.9.0.2\ta" in hosts_b and "c" not in hosts_b.split("localhost")[-1].split()
    hosts_a = hosts_file("a", topology, HostsExtras(links=(("srv", "c"),)))
    assert "10.9.0.3\tb web" in hosts_a and "10.9.1.3\tc srv" in hosts_a
    assert "10.9.0.3\tb web" not in hosts_file("c", topology, HostsExtras())
    assert "10.9.0.3\tweb" in hosts_b  # its own alias names it too, as on Docker


def test_free_subnets_avoid_routes_and_each_other() -> None:
    first = free_subnet([], "p/default")
    second = free_subnet([first], "p/default")
    assert first != second and not first.overlaps(second)
    with pytest.raises(BackendError):
        free_subnet([IPv4Network("10.200.0.0/13")], "x")


def test_resolv_conf_drops_loopback_and_internal_nameservers() -> None:
    host = "nameserver 127.0.0.53\nnameserver 1.1.1.1\nsearch example\n"
    assert "1.1.1.1" in resolv_conf(host, internal_only=False)
    assert "127.0.0.53" not in resolv_conf(host, internal_only=False)
    assert "nameserver" not in resolv_conf(host, internal_only=True)


def test_free_subnets_of_a_larger_size_are_aligned_and_avoid_taken_ones() -> None:
    taken = [free_subnet([], "p/a")]
    wide = free_subnet(taken, "p/b", prefix=21)
    assert wide.prefixlen == 21 and not wide.overlaps(taken[0])
    assert wide.subnet_of(IPv4Network("10.200.0.0/13"))
