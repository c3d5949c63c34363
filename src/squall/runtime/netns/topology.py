"""Networks, addresses and names of a netns cluster, as data. Pure: no kernel, no I/O.

`Topology.from_kernel` reads what exists back from the host's links (their ifalias
labels, see `naming`); `plan_network` and `AddressBook` give new networks their
subnet and bridge and new attachments their veth, interface and address, keeping
every address that exists (`plan` decides which are needed); and `hosts_file` writes
what one service may resolve: the names of services it shares a network with, and
nothing else.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from squall.errors import BackendError
from squall.runtime.netns import naming

POOL = IPv4Network("10.200.0.0/13")
"""Where networks without `ipam` get their subnet: 2048 /24s, 10.200.0.0-10.207.255.0."""
POOL_PREFIX = 24
"""The size a network gets unless its services need more (`prefix_for`)."""
LARGEST_PREFIX = 16


@dataclass(frozen=True)
class NetworkPlan:
    """One compose network: a bridge with a subnet (and the gateway on the host side)."""

    name: str
    bridge: str
    subnet: IPv4Network
    gateway: IPv4Address
    internal: bool = False
    adhoc: bool = False
    """Made with `squall net create` (kept by `up`)."""

    def label(self, project: str) -> str:
        return naming.encode_label(
            {
                "p": project,
                "n": self.name,
                "subnet": str(self.subnet),
                "gw": str(self.gateway),
                "internal": "1" if self.internal else "0",
                "adhoc": "1" if self.adhoc else "0",
            }
        )


@dataclass(frozen=True)
class AttachmentPlan:
    """A service on a network: a veth pair, its address, the names it answers to there."""

    service: str
    network: str
    host_if: str
    inner_if: str
    ip: IPv4Address
    prefix_len: int
    aliases: tuple[str, ...] = ()

    def label(self, project: str) -> str:
        return naming.encode_label(
            {
                "p": project,
                "s": self.service,
                "n": self.network,
                "if": self.inner_if,
                "ip": f"{self.ip}/{self.prefix_len}",
                "a": ",".join(self.aliases),
            }
        )


@dataclass(frozen=True)
class Topology:
    """What a project has on the host: bridges and veths (found by label) and namespaces."""

    project: str
    networks: tuple[NetworkPlan, ...] = ()
    attachments: tuple[AttachmentPlan, ...] = ()
    namespaces: tuple[str, ...] = ()
    """Services that have a namespace under /run/netns."""
    stray_links: tuple[str, ...] = ()
    """Links named and labelled for the project that are not a whole network or veth."""

    @classmethod
    def from_kernel(
        cls, project: str, links: Iterable[Mapping[str, Any]], netns_names: Iterable[str]
    ) -> Topology:
        """Read the project's objects from `ip -j link show` and the namespace names."""
        prefix = naming.link_prefix(project)
        networks: list[NetworkPlan] = []
        attachments: list[AttachmentPlan] = []
        stray: list[str] = []
        for link in links:
            name = str(link.get("ifname", ""))
            if not name.startswith(prefix):
                continue
            label = naming.decode_label(link.get("ifalias"))
            if label is None or label.get("p") != project:
                continue  # another project's hash collision, or not Squall's: not ours
            try:
                if naming.link_number(project, name, "n") is not None:
                    networks.append(
                        NetworkPlan(
                            name=label["n"],
                            bridge=name,
                            subnet=IPv4Network(label["subnet"]),
                            gateway=IPv4Address(label["gw"]),
                            internal=label.get("internal") == "1",
                            adhoc=label.get("adhoc") == "1",
                        )
                    )
                    continue
                if naming.link_number(project, name, "v") is not None:
                    iface = ipaddress.IPv4Interface(label["ip"])
                    attachments.append(
                        AttachmentPlan(
                            service=label["s"],
                            network=label["n"],
                            host_if=name,
                            inner_if=label["if"],
                            ip=iface.ip,
                            prefix_len=iface.network.prefixlen,
                            aliases=tuple(a for a in label.get("a", "").split(",") if a),
                        )
                    )
                    continue
            except (KeyError, ValueError):
                pass
            stray.append(name)
        services = sorted(
            s for n in netns_names if (s := naming.service_of_netns(project, n)) is not None
        )
        return cls(
            project,
            tuple(sorted(networks, key=lambda n: n.name)),
            tuple(sorted(attachments, key=lambda a: (a.service, a.inner_if))),
            tuple(services),
            tuple(sorted(stray)),
        )

    def network(self, name: str) -> NetworkPlan | None:
        return next((n for n in self.networks if n.name == name), None)

    def attachment(self, service: str, network: str) -> AttachmentPlan | None:
        return next(
            (a for a in self.attachments if a.service == service and a.network == network), None
        )

    @functools.cached_property
    def _by_service(self) -> dict[str, list[AttachmentPlan]]:
        index: dict[str, list[AttachmentPlan]] = {}
        for a in sorted(self.attachments, key=lambda a: _if_position(a.inner_if)):
            index.setdefault(a.service, []).append(a)
        return index

    @functools.cached_property
    def _by_network(self) -> dict[str, list[AttachmentPlan]]:
        index: dict[str, list[AttachmentPlan]] = {}
        for a in sorted(self.attachments, key=lambda a: a.service):
            index.setdefault(a.network, []).append(a)
        return index

    def of_service(self, service: str) -> list[AttachmentPlan]:
        """The service's attachments in interface order (eth0 first)."""
        return list(self._by_service.get(service, ()))

    def on_network(self, network: str) -> list[AttachmentPlan]:
        return list(self._by_network.get(network, ()))

    @functools.cached_property
    def _named(self) -> dict[str, list[tuple[str, str, tuple[str, ...]]]]:
        """Per network: (service, ip, names) of each attachment, rendered once; every
        hosts file lists the same peers, so 1000 files need not format 10^6 addresses."""
        return {
            network: [(a.service, str(a.ip), (a.service, *a.aliases)) for a in attached]
            for network, attached in self._by_network.items()
        }

    def named_on(self, network: str) -> list[tuple[str, str, tuple[str, ...]]]:
        """(service, ip, names) of every attachment on `network`."""
        return self._named.get(network, [])

    def link_names(self) -> list[str]:
        return [
            *(n.bridge for n in self.networks),
            *(a.host_if for a in self.attachments),
            *self.stray_links,
        ]


def _if_position(name: str) -> int:
    digits = name[len(naming.INNER_IF_PREFIX) :]
    return int(digits) if digits.isdigit() else 1 << 20


def next_free(used: Iterable[int]) -> int:
    taken = set(used)
    number = 0
    while number in taken:
        number += 1
    return number


def prefix_for(members: int) -> int:
    """The prefix of a pool network for `members` attachments: a /24, or the smallest
    subnet holding twice them (room for `--scale` and `net connect` later), as Docker
    sizes its default address pools by the block, not by the address."""
    prefix = POOL_PREFIX
    while prefix > LARGEST_PREFIX and (1 << (32 - prefix)) - 3 < 2 * members:
        prefix -= 1
    return prefix


def free_subnet(taken: Sequence[IPv4Network], seed: str, prefix: int = POOL_PREFIX) -> IPv4Network:
    """A /`prefix` of `POOL` overlapping none of `taken`, starting at a place `seed` picks.

    Different projects start at different places, so two `up`s running at once rarely
    even look at the same subnet (and a lock serialises them anyway).

    Raises:
        BackendError: the whole pool is in use.
    """
    count = 1 << (prefix - POOL.prefixlen)
    start = int(hashlib.sha1(seed.encode()).hexdigest()[:8], 16) % count
    base = int(POOL.network_address)
    for step in range(count):
        index = (start + step) % count
        candidate = IPv4Network((base + (index << (32 - prefix)), prefix))
        if not any(candidate.overlaps(t) for t in taken):
            return candidate
    raise BackendError(f"no free /{prefix} left in {POOL} for a new network")


@dataclass(frozen=True)
class WantedNetwork:
    """A network `up` or `net create` needs, as the file (or the command) gives it."""

    name: str
    subnet: str | None = None
    gateway: str | None = None
    internal: bool = False
    adhoc: bool = False
    members: int = 0
    """Services joining it: a pool subnet is sized to hold them (`prefix_for`)."""


def plan_network(
    project: str,
    wanted: WantedNetwork,
    current: Topology,
    taken: Sequence[IPv4Network],
    extra_bridges: Sequence[str] = (),
) -> NetworkPlan:
    """A new bridge for `wanted`: its ipam subnet, or a free subnet of the pool sized
    for its members.

    Raises:
        BackendError: the subnet is not IPv4, overlaps a route of the host or another
            network, or the gateway lies outside it.
    """
    if wanted.subnet:
        try:
            subnet = IPv4Network(wanted.subnet, strict=False)
        except ValueError as exc:
            raise BackendError(
                f"network {wanted.name!r}: subnet {wanted.subnet!r} is not an IPv4 network "
                "(the netns backend has no IPv6)"
            ) from exc
        clash = next((t for t in taken if subnet.overlaps(t)), None)
        if clash is not None:
            raise BackendError(
                f"network {wanted.name!r}: subnet {subnet} overlaps {clash}, "
                "which this host already routes"
            )
        if subnet.num_addresses < 4:
            raise BackendError(f"network {wanted.name!r}: subnet {subnet} is too small")
    else:
        subnet = free_subnet(taken, f"{project}/{wanted.name}", prefix_for(wanted.members))
    if wanted.gateway:
        gateway = IPv4Address(wanted.gateway)
        if gateway not in subnet:
            raise BackendError(
                f"network {wanted.name!r}: gateway {gateway} is outside its subnet {subnet}"
            )
    else:
        gateway = subnet.network_address + 1
    used = [naming.link_number(project, n.bridge, "n") for n in current.networks]
    used += [naming.link_number(project, b, "n") for b in extra_bridges]
    number = next_free(u for u in used if u is not None)
    return NetworkPlan(
        name=wanted.name,
        bridge=naming.bridge_name(project, number),
        subnet=subnet,
        gateway=gateway,
        internal=wanted.internal,
        adhoc=wanted.adhoc,
    )


@dataclass(frozen=True)
class WantedAttachment:
    service: str
    network: str
    aliases: tuple[str, ...] = ()
    ipv4_address: str | None = None


@dataclass
class AddressBook:
    """Hands out veth names, interface names and addresses while `up` plans."""

    project: str
    topology: Topology
    veths: set[int] = field(default_factory=set)
    addresses: dict[str, set[IPv4Address]] = field(default_factory=dict)
    inner: dict[str, set[str]] = field(default_factory=dict)
    scanned: dict[str, int] = field(default_factory=dict)
    """Per network, the host number below which every address is taken: a thousand
    attachments are handed out in one pass over the subnet, not one pass each."""

    def __post_init__(self) -> None:
        for a in self.topology.attachments:
            number = naming.link_number(self.project, a.host_if, "v")
            if number is not None:
                self.veths.add(number)
            self.addresses.setdefault(a.network, set()).add(a.ip)
            self.inner.setdefault(a.service, set()).add(a.inner_if)
        for name in self.topology.stray_links:
            number = naming.link_number(self.project, name, "v")
            if number is not None:
                self.veths.add(number)

    def reserve(self, network: str, ip: IPv4Address) -> None:
        self.addresses.setdefault(network, set()).add(ip)

    def release(self, attachment: AttachmentPlan) -> None:
        self.addresses.get(attachment.network, set()).discard(attachment.ip)
        self.scanned.pop(attachment.network, None)
        self.inner.get(attachment.service, set()).discard(attachment.inner_if)

    def attach(self, wanted: WantedAttachment, network: NetworkPlan) -> AttachmentPlan:
        """A new attachment with a fresh veth, the next free ethN and address.

        Raises:
            BackendError: a fixed `ipv4_address` is outside the subnet or taken, or the
                subnet is full.
        """
        used = self.addresses.setdefault(network.name, set())
        if wanted.ipv4_address:
            try:
                ip = IPv4Address(wanted.ipv4_address)
            except ValueError as exc:
                raise BackendError(
                    f"service {wanted.service!r}: ipv4_address {wanted.ipv4_address!r} is not "
                    "an IPv4 address",
                    service=wanted.service,
                ) from exc
            if ip not in network.subnet or ip in (network.gateway, *used):
                raise BackendError(
                    f"service {wanted.service!r}: ipv4_address {ip} is outside "
                    f"{network.subnet} or already taken on network {network.name!r}",
                    service=wanted.service,
                )
        else:
            ip, self.scanned[network.name] = _free_host(
                network, used, self.scanned.get(network.name, 1)
            )
        used.add(ip)
        veth = next_free(self.veths)
        self.veths.add(veth)
        names = self.inner.setdefault(wanted.service, set())
        position = next_free(_if_position(n) for n in names)
        inner = naming.inner_name(position)
        names.add(inner)
        return AttachmentPlan(
            service=wanted.service,
            network=network.name,
            host_if=naming.veth_name(self.project, veth),
            inner_if=inner,
            ip=ip,
            prefix_len=network.subnet.prefixlen,
            aliases=wanted.aliases,
        )


def _free_host(network: NetworkPlan, used: set[IPv4Address], start: int) -> tuple[IPv4Address, int]:
    """The first free host address from host number `start` on, and that number."""
    base = int(network.subnet.network_address)
    for number in range(max(start, 1), network.subnet.num_addresses - 1):
        ip = IPv4Address(base + number)
        if ip != network.gateway and ip not in used:
            return ip, number
    raise BackendError(f"network {network.name!r}: no free address left in {network.subnet}")


@dataclass(frozen=True)
class HostsExtras:
    """What one service's hosts file holds beyond the shared networks."""

    hostname: str | None = None
    links: tuple[tuple[str, str], ...] = ()
    """(alias, service) pairs from legacy `links:`."""
    extra_hosts: tuple[str, ...] = ()
    """`name:ip` or `name=ip` entries from `extra_hosts:`."""
    netns_of: str | None = None
    """`network_mode: service:X`: X, whose addresses and peers this service sees."""


def hosts_file(service: str, topology: Topology, extras: HostsExtras) -> str:
    """The /etc/hosts of `service`: itself, then every peer on a network it shares.

    A name shared by several peers (or one peer on several networks) resolves to the
    first entry: the service's own first network wins.
    """
    owner = extras.netns_of or service
    mine = topology.of_service(owner)
    lines = [
        "# written by squall (netns backend); regenerated when the topology changes",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
    ]
    own_names = list(dict.fromkeys(n for n in (extras.hostname, service) if n))
    lines.append(f"{mine[0].ip if mine else '127.0.1.1'}\t{' '.join(own_names)}")
    names = _Names(set(own_names))
    for attachment in mine:  # its own aliases, as Docker's resolver answers them too
        names.add(str(attachment.ip), attachment.aliases)
    shared_ips: dict[str, str] = {}
    for attachment in mine:
        for peer, ip, peer_names in topology.named_on(attachment.network):
            if peer != owner:
                shared_ips.setdefault(peer, ip)
                names.add(ip, peer_names)
    for alias, target in extras.links:
        if target in shared_ips:
            names.add(shared_ips[target], (alias,))
    lines += [f"{ip}\t{' '.join(found)}" for ip, found in names.by_ip.items()]
    lines += _extra_host_lines(extras.extra_hosts)
    return "\n".join(lines) + "\n"


@dataclass
class _Names:
    """Names given out so far in one hosts file: each name once, the first ip wins."""

    seen: set[str]
    by_ip: dict[str, list[str]] = field(default_factory=dict)

    def add(self, ip: str, names: Sequence[str]) -> None:
        if len(names) == 1:  # the common case, a peer without aliases: no set to build
            if names[0] not in self.seen:
                self.seen.add(names[0])
                self.by_ip.setdefault(ip, []).append(names[0])
            return
        fresh = [n for n in dict.fromkeys(names) if n not in self.seen]
        self.seen.update(fresh)
        if fresh:
            self.by_ip.setdefault(ip, []).extend(fresh)


def _extra_host_lines(entries: Iterable[str]) -> list[str]:
    """`extra_hosts:` entries (`name:ip` or `name=ip`) as hosts lines."""
    lines = []
    for entry in entries:
        name, sep, address = entry.partition("=")
        if not sep:
            name, _, address = entry.partition(":")
        if name and address:
            lines.append(f"{address.strip('[]')}\t{name}")
    return lines


def resolv_conf(host_text: str, internal_only: bool) -> str:
    """The host's resolv.conf without loopback nameservers (unreachable from a namespace).

    Services on internal networks only get no nameserver at all: names resolve
    through their hosts file, and nothing outside is asked.
    """
    lines = ["# written by squall (netns backend)"]
    for line in host_text.splitlines():
        words = line.split()
        if words[:1] == ["nameserver"] and (
            internal_only or len(words) < 2 or words[1].startswith(("127.", "::1"))
        ):
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def default_gateway(topology: Topology, service: str) -> AttachmentPlan | None:
    """The attachment that carries the default route: the first non-internal network."""
    for attachment in topology.of_service(service):
        network = topology.network(attachment.network)
        if network is not None and not network.internal:
            return attachment
    return None


def squall_subnets(links: Iterable[Mapping[str, object]]) -> list[IPv4Network]:
    """Subnets of every Squall bridge on the host, any project (internal ones have no
    route, so the routing table alone would not show them)."""
    found = []
    for link in links:
        label = naming.decode_label(str(link.get("ifalias") or ""))
        if label and "subnet" in label:
            with contextlib.suppress(ValueError):
                found.append(IPv4Network(label["subnet"]))
    return found


def with_attachments(topology: Topology, added: Iterable[AttachmentPlan]) -> Topology:
    return replace(topology, attachments=tuple([*topology.attachments, *added]))


def without_attachments(topology: Topology, removed: Iterable[AttachmentPlan]) -> Topology:
    gone = {a.host_if for a in removed}
    return replace(
        topology, attachments=tuple(a for a in topology.attachments if a.host_if not in gone)
    )


__all__ = [
    "POOL",
    "AddressBook",
    "AttachmentPlan",
    "HostsExtras",
    "NetworkPlan",
    "Topology",
    "WantedAttachment",
    "WantedNetwork",
    "default_gateway",
    "free_subnet",
    "hosts_file",
    "plan_network",
    "resolv_conf",
    "squall_subnets",
]
