"""What `up` and `squall net` change on the host, planned without a kernel."""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path

import pytest

from squall.errors import BackendError, ServiceNotFound
from squall.runtime.netns import naming
from squall.runtime.netns.plan import (
    NetworkChange,
    Placement,
    forward_rules,
    placement,
    plan_connect,
    plan_disconnect,
    plan_new_network,
    plan_remove_network,
    plan_up,
    removal_rules,
)
from squall.runtime.netns.topology import Topology
from squall.spec.loader import load_cluster
from squall.spec.model import ClusterSpec

PROJECT = "demo"
COMPOSE = """
x-squall: {backend: netns}
services:
  api:
    command: ["sleep", "1000"]
    networks:
      front: {aliases: [web]}
      back: {}
  db:
    command: ["sleep", "1000"]
    networks:
      back: {ipv4_address: 10.9.0.50}
  sidecar:
    command: ["sleep", "1000"]
    network_mode: "service:api"
networks:
  front: {}
  back:
    ipam: {config: [{subnet: 10.9.0.0/24}]}
"""
HOST_ROUTES = [IPv4Network("192.168.1.0/24")]


def _spec(tmp_path: Path, text: str = COMPOSE) -> ClusterSpec:
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    return load_cluster(path, project=PROJECT)


def _placements(spec: ClusterSpec) -> dict[str, Placement]:
    return {s.name: placement(PROJECT, s) for s in spec.services}


def _read_back(change: NetworkChange) -> Topology:
    """The topology the kernel would report after `change`: its links' labels."""
    topology = change.topology
    links = [{"ifname": n.bridge, "ifalias": n.label(PROJECT)} for n in topology.networks]
    links += [{"ifname": a.host_if, "ifalias": a.label(PROJECT)} for a in topology.attachments]
    names = [naming.netns_name(PROJECT, s) for s in topology.namespaces]
    return Topology.from_kernel(PROJECT, links, names)


def _up(spec: ClusterSpec, current: Topology, *, force: bool = False) -> NetworkChange:
    return plan_up(spec, _placements(spec), current, HOST_ROUTES, force=force)


def test_first_up_makes_namespaces_bridges_and_veths(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    change = _up(spec, Topology(PROJECT))
    assert change.new_namespaces == ("api", "db")  # the sidecar lives in api's
    assert change.host[:2] == ("netns add squall-demo.api", "netns add squall-demo.db")
    bridges = [line for line in change.host if line.endswith("type bridge")]
    veths = [line for line in change.host if " type veth " in line]
    assert len(bridges) == 2 and len(veths) == 3
    back = change.topology.network("back")
    assert back is not None and str(back.subnet) == "10.9.0.0/24"
    db = change.topology.attachment("db", "back")
    assert db is not None and str(db.ip) == "10.9.0.50"
    front = change.topology.attachment("api", "front")
    assert front is not None and front.aliases == ("web",)
    inside = dict(change.inside)
    assert inside["squall-demo.api"][0] == "link set lo up"
    assert any(line.startswith("route replace default") for line in inside["squall-demo.db"])
    assert change.rewrite_rules and change.ensure_rules


def test_a_second_up_changes_nothing(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    first = _up(spec, Topology(PROJECT))
    again = _up(spec, _read_back(first))
    assert (again.host, again.inside, again.rewrite_rules) == ((), (), False)
    assert again.topology.attachments == _read_back(first).attachments


def test_force_recreates_every_veth_and_keeps_addresses_free(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    current = _read_back(_up(spec, Topology(PROJECT)))
    change = _up(spec, current, force=True)
    assert len(change.removed) == 3 and len(change.added) == 3
    assert sum(line.startswith("link del ") for line in change.host) == 3
    db = change.topology.attachment("db", "back")
    assert db is not None and str(db.ip) == "10.9.0.50"


def test_new_aliases_relabel_the_veth_in_place(tmp_path: Path) -> None:
    current = _read_back(_up(_spec(tmp_path), Topology(PROJECT)))
    change = _up(_spec(tmp_path, COMPOSE.replace("[web]", "[www]")), current)
    assert change.added == change.removed == ()
    (line,) = change.host
    assert line.startswith("link set ") and "a=www" in line
    front = change.topology.attachment("api", "front")
    assert front is not None and front.aliases == ("www",)


def test_networks_made_with_net_connect_survive_up(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    current = _read_back(_up(spec, Topology(PROJECT)))
    made = plan_new_network(PROJECT, current, HOST_ROUTES, "side", subnet="10.77.0.0/24")
    connected = plan_connect(PROJECT, _read_back(made), "side", "db", ["store"])
    change = _up(spec, _read_back(connected))
    assert change.host == () and change.removed == ()


def test_a_missing_external_network_is_refused_before_anything(tmp_path: Path) -> None:
    text = COMPOSE.replace("  front: {}", "  front: {external: true}")
    with pytest.raises(BackendError, match="'front' is declared external"):
        _up(_spec(tmp_path, text), Topology(PROJECT))


def test_net_commands_check_what_they_are_asked(tmp_path: Path) -> None:
    current = _read_back(_up(_spec(tmp_path), Topology(PROJECT)))
    with pytest.raises(BackendError, match="exists already"):
        plan_new_network(PROJECT, current, HOST_ROUTES, "front")
    with pytest.raises(BackendError, match=r"in use by api, db"):
        plan_remove_network(PROJECT, current, "back")
    with pytest.raises(BackendError, match="has no network 'nope'"):
        plan_connect(PROJECT, current, "nope", "db")
    with pytest.raises(ServiceNotFound):
        plan_connect(PROJECT, current, "front", "sidecar")
    with pytest.raises(BackendError, match="already on network"):
        plan_connect(PROJECT, current, "front", "api")
    with pytest.raises(BackendError, match="not on network"):
        plan_disconnect(PROJECT, current, "front", "db")


def test_disconnect_removes_the_veth_and_fixes_the_route_inside(tmp_path: Path) -> None:
    current = _read_back(_up(_spec(tmp_path), Topology(PROJECT)))
    change = plan_disconnect(PROJECT, current, "back", "db")
    attachment = current.attachment("db", "back")
    assert attachment is not None
    assert change.host == (f"link del {attachment.host_if}",)
    assert change.inside == (("squall-demo.db", ("route flush exact 0.0.0.0/0",)),)
    assert change.topology.attachment("db", "back") is None and not change.rewrite_rules


def test_forward_rules_keep_traffic_on_its_bridge_and_jump_once(tmp_path: Path) -> None:
    topology = _up(_spec(tmp_path), Topology(PROJECT)).topology
    chain = naming.chain_name(PROJECT)
    text = forward_rules(PROJECT, topology, {"filter": "", "nat": ""})
    back = topology.network("back")
    assert back is not None
    assert f"-A {chain} -i {back.bridge} -o {back.bridge} -j ACCEPT" in text
    assert f"-A {chain} -s 10.9.0.0/24 ! -o {back.bridge} -j MASQUERADE" in text
    assert text.count(f"-I FORWARD 1 -j {chain}") == 1
    saved = {"filter": f"-A FORWARD -j {chain}\n", "nat": f"-A POSTROUTING -j {chain}\n"}
    assert "-I " not in forward_rules(PROJECT, topology, saved)


def test_removal_deletes_every_jump_and_nothing_of_others() -> None:
    chain = naming.chain_name(PROJECT)
    saved = {
        "filter": f":{chain} - [0:0]\n-A FORWARD -j {chain}\n-A FORWARD -j {chain}\n",
        "nat": ":SQUALL-other - [0:0]\n",
    }
    text = removal_rules(PROJECT, saved)
    assert text.count(f"-D FORWARD -j {chain}") == 2
    assert "*nat" not in text
    assert removal_rules(PROJECT, {"filter": "", "nat": ""}) == ""


@pytest.mark.parametrize(("services", "prefix"), [(3, 24), (126, 24), (127, 23), (1000, 21)])
def test_the_default_network_is_sized_to_the_cluster(
    tmp_path: Path, services: int, prefix: int
) -> None:
    """A /24 holds 253 services; a larger cluster gets a pool subnet that fits it twice."""
    lines = ["x-squall: {backend: netns}", "services:"]
    lines += [f"  s{i}: {{command: [sleep, '1000']}}" for i in range(services)]
    change = _up(_spec(tmp_path, "\n".join(lines) + "\n"), Topology(PROJECT))
    (network,) = change.new_networks
    assert network.name == "default" and network.subnet.prefixlen == prefix
    assert network.subnet.subnet_of(IPv4Network("10.200.0.0/13"))
    ips = {a.ip for a in change.added}
    assert len(ips) == services and all(ip in network.subnet for ip in ips)
