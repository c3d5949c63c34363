"""What the host must change so its namespaces, bridges and veths match, as data. Pure.

`plan_up` compares the cluster file with the topology read back from the kernel;
`plan_new_network`, `plan_remove_network`, `plan_connect` and `plan_disconnect` do
the same for `squall net`. Each returns a `NetworkChange`: the `ip -batch` lines to
run on the host and inside each namespace, the topology they leave behind, and
whether the project's forward rules (`forward_rules`) must be written again. Nothing
here runs a command: `NetnsBackend` applies a change in one place. Every address that
exists is kept; what is added is named and numbered by `topology.AddressBook`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Network

from squall.errors import BackendError, ServiceNotFound
from squall.runtime.netns import naming
from squall.runtime.netns.topology import (
    AddressBook,
    AttachmentPlan,
    NetworkPlan,
    Topology,
    WantedAttachment,
    WantedNetwork,
    default_gateway,
    plan_network,
    with_attachments,
    without_attachments,
)
from squall.spec.model import ClusterSpec, ServiceSpec
from squall.spec.usage import service_networks, used_networks

Lines = tuple[str, ...]


@dataclass(frozen=True)
class Placement:
    """Where a service's processes live: a namespace of its own, another's, or the host's."""

    netns: str | None
    """Namespace name under /run/netns (None: the host's network)."""
    owner: str
    """The service whose namespace and addresses these are."""
    own: bool


def placement(project: str, service: ServiceSpec) -> Placement:
    """Raises BackendError for a `network_mode` this backend cannot give."""
    mode = service.network_mode
    if mode and mode.startswith("service:"):
        other = mode.split(":", 1)[1]
        return Placement(naming.netns_name(project, other), other, own=False)
    if mode == "host":
        return Placement(None, service.name, own=False)
    if mode not in (None, "none", "bridge", "default"):
        raise BackendError(
            f"service {service.name!r}: network_mode {mode!r} has no meaning on the netns "
            "backend (use none, host or service:NAME)",
            service=service.name,
        )
    return Placement(naming.netns_name(project, service.name), service.name, own=True)


def check_network_modes(spec: ClusterSpec, placements: Mapping[str, Placement]) -> None:
    """Raises BackendError for `network_mode: service:X` where X has no namespace."""
    for service in spec.services:
        where = placements[service.name]
        if where.own or where.netns is None:
            continue
        target = placements.get(where.owner)
        if target is None or not target.own:
            raise BackendError(
                f"service {service.name!r}: network_mode {service.network_mode!r} must name "
                "a service with a network namespace of its own",
                service=service.name,
            )


@dataclass(frozen=True)
class NetworkChange:
    """One step from the topology the kernel has to the one wanted."""

    topology: Topology
    """What the host holds once the change is made."""
    host: Lines = ()
    """`ip -batch` lines for the host's namespace, in order."""
    inside: tuple[tuple[str, Lines], ...] = ()
    """(namespace name, `ip -batch` lines) for each namespace to set up inside."""
    new_networks: tuple[NetworkPlan, ...] = ()
    new_namespaces: tuple[str, ...] = ()
    added: tuple[AttachmentPlan, ...] = ()
    removed: tuple[AttachmentPlan, ...] = ()
    rewrite_rules: bool = False
    """The networks changed: write the project's forward rules again."""
    ensure_rules: bool = False
    """Write them also when the kernel lost them (`up` repairs what it finds missing)."""

    def summary(self) -> str:
        return f"{len(self.new_namespaces)} namespace(s), {len(self.added)} veth(s)"


def plan_up(
    spec: ClusterSpec,
    placements: Mapping[str, Placement],
    current: Topology,
    taken: Sequence[IPv4Network],
    *,
    force: bool = False,
) -> NetworkChange:
    """Bridges for new networks, namespaces for new services, veths and addresses for
    new attachments; attachments no longer in the file (or, with `force`, all of them)
    are removed, those made with `squall net connect` kept.

    Raises:
        BackendError: an external network is missing, a subnet clashes, an address is
            taken or outside its network.
    """
    project = spec.name
    new_networks = _new_networks(spec, current, taken)
    topology = replace(current, networks=(*current.networks, *new_networks))
    existing_ns = set(topology.namespaces)
    new_ns = [s.name for s in spec.services if placements[s.name].own and s.name not in existing_ns]
    host = [f"netns add {naming.netns_name(project, name)}" for name in new_ns]
    for network in new_networks:
        host += bridge_lines(project, network)
    topology, removed, wanted, relabel = _compare(spec, placements, topology, force)
    host += relabel
    topology, added, lines = _attach(project, topology, removed, wanted)
    host += lines
    changed = {a.service for a in (*added, *removed)} | set(new_ns)
    inside = tuple(
        (naming.netns_name(project, name), inside_lines(topology, name, name in new_ns))
        for name in sorted(changed)
        if placements.get(name) is not None and placements[name].own
    )
    return NetworkChange(
        topology=replace(topology, namespaces=tuple(sorted(existing_ns | set(new_ns)))),
        host=tuple(host),
        inside=inside,
        new_networks=tuple(new_networks),
        new_namespaces=tuple(new_ns),
        added=tuple(added),
        removed=tuple(removed),
        rewrite_rules=bool(new_networks or removed),
        ensure_rules=True,
    )


def _new_networks(
    spec: ClusterSpec, current: Topology, taken: Sequence[IPv4Network]
) -> list[NetworkPlan]:
    planned: list[NetworkPlan] = []
    subnets = list(taken)
    members = Counter(n.name for s in spec.services for n in service_networks(s))
    for network in used_networks(spec):
        if current.network(network.name) is not None:
            continue
        if network.external:
            raise BackendError(
                f"network {network.name!r} is declared external but the cluster has no "
                f"such network; create it with `squall net create {network.name}`"
            )
        wanted = WantedNetwork(
            network.name,
            subnet=network.subnets[0] if network.subnets else None,
            gateway=network.gateway,
            internal=network.internal,
            members=members[network.name],
        )
        made = plan_network(
            spec.name, wanted, current, subnets, extra_bridges=[n.bridge for n in planned]
        )
        subnets.append(made.subnet)
        planned.append(made)
    return planned


def _wanted(service: ServiceSpec) -> dict[str, WantedAttachment]:
    """The networks a service joins, with the names it answers to on each."""
    want: dict[str, WantedAttachment] = {}
    if service.network_mode is not None:
        return want
    for joined in service_networks(service):
        aliases = [*joined.aliases]
        if service.hostname:
            aliases.append(service.hostname)
        want[joined.name] = WantedAttachment(
            service.name,
            joined.name,
            tuple(dict.fromkeys(a for a in aliases if a != service.name)),
            joined.ipv4_address,
        )
    return want


def _compare(
    spec: ClusterSpec, placements: Mapping[str, Placement], topology: Topology, force: bool
) -> tuple[Topology, list[AttachmentPlan], list[WantedAttachment], list[str]]:
    """What exists against what the file wants: attachments to remove, attachments to
    add, and `link set ... alias` lines for those kept under new aliases."""
    project = spec.name
    removed: list[AttachmentPlan] = []
    wanted: list[WantedAttachment] = []
    relabel: list[str] = []
    for service in spec.services:
        if not placements[service.name].own:
            continue
        want = _wanted(service)
        for current in topology.of_service(service.name):
            desired = want.get(current.network)
            network = topology.network(current.network)
            if desired is None:
                if network is None or not network.adhoc:  # `net connect`ed ones are kept
                    removed.append(current)
            elif force or (desired.ipv4_address and str(current.ip) != desired.ipv4_address):
                removed.append(current)
            else:
                want.pop(current.network)
                if current.aliases != desired.aliases:
                    renamed = replace(current, aliases=desired.aliases)
                    topology = with_attachments(without_attachments(topology, [current]), [renamed])
                    relabel.append(f'link set {renamed.host_if} alias "{renamed.label(project)}"')
        wanted += want.values()
    return topology, removed, wanted, relabel


def _attach(
    project: str,
    topology: Topology,
    removed: Sequence[AttachmentPlan],
    wanted: Sequence[WantedAttachment],
) -> tuple[Topology, list[AttachmentPlan], list[str]]:
    """Remove, then add attachments: the topology after, what was added, the lines."""
    book = AddressBook(project, topology)
    lines: list[str] = []
    for gone in removed:
        book.release(gone)
        lines.append(f"link del {gone.host_if}")
    topology = without_attachments(topology, removed)
    added: list[AttachmentPlan] = []
    # Fixed addresses first, so the ones handed out avoid them.
    for want in sorted(wanted, key=lambda w: (w.ipv4_address is None, w.service)):
        network = topology.network(want.network)
        assert network is not None
        attachment = book.attach(want, network)
        added.append(attachment)
        lines += veth_lines(project, attachment, network)
    return with_attachments(topology, added), added, lines


# `squall net` -------------------------------------------------------------------------


def plan_new_network(
    project: str,
    topology: Topology,
    taken: Sequence[IPv4Network],
    name: str,
    *,
    subnet: str | None = None,
    internal: bool = False,
) -> NetworkChange:
    """A bridge made with `squall net create` (kept by `up`, removed by `down`).

    Raises:
        BackendError: a network of that name exists, or the subnet clashes.
    """
    if topology.network(name) is not None:
        raise BackendError(f"network {name!r} exists already")
    wanted = WantedNetwork(name, subnet=subnet, internal=internal, adhoc=True)
    made = plan_network(project, wanted, topology, taken)
    return NetworkChange(
        topology=replace(topology, networks=(*topology.networks, made)),
        host=tuple(bridge_lines(project, made)),
        new_networks=(made,),
        rewrite_rules=True,
    )


def plan_remove_network(project: str, topology: Topology, name: str) -> NetworkChange:
    """Raises BackendError: unknown network, or services still attached (named)."""
    network = topology.network(name)
    if network is None:
        known = ", ".join(n.name for n in topology.networks) or "none"
        raise BackendError(f"cluster {project!r} has no network {name!r} (known: {known})")
    users = [a.service for a in topology.on_network(name)]
    if users:
        raise BackendError(
            f"network {name!r} is in use by {', '.join(users)}; "
            "disconnect them first (`squall net disconnect NETWORK SERVICE`)"
        )
    remaining = tuple(n for n in topology.networks if n.name != name)
    return NetworkChange(
        topology=replace(topology, networks=remaining),
        host=(f"link del {network.bridge}",),
        rewrite_rules=True,
    )


def plan_connect(
    project: str, topology: Topology, network: str, service: str, aliases: Sequence[str] = ()
) -> NetworkChange:
    """Raises ServiceNotFound (no namespace of its own) or BackendError (already on it)."""
    net = find_network(topology, network)
    if service not in topology.namespaces:
        raise ServiceNotFound(
            f"service {service!r} of {project!r} has no namespace of its own", service=service
        )
    if topology.attachment(service, network) is not None:
        raise BackendError(f"service {service!r} is already on network {network!r}")
    wanted = WantedAttachment(
        service, network, tuple(dict.fromkeys(a for a in aliases if a != service))
    )
    attachment = AddressBook(project, topology).attach(wanted, net)
    after = with_attachments(topology, [attachment])
    return NetworkChange(
        topology=after,
        host=tuple(veth_lines(project, attachment, net)),
        inside=((naming.netns_name(project, service), inside_lines(after, service, False)),),
        added=(attachment,),
    )


def plan_disconnect(project: str, topology: Topology, network: str, service: str) -> NetworkChange:
    """Raises BackendError: no such network, or the service is not on it."""
    find_network(topology, network)
    attachment = topology.attachment(service, network)
    if attachment is None:
        raise BackendError(f"service {service!r} is not on network {network!r}")
    after = without_attachments(topology, [attachment])
    return NetworkChange(
        topology=after,
        host=(f"link del {attachment.host_if}",),
        inside=((naming.netns_name(project, service), inside_lines(after, service, False)),),
        removed=(attachment,),
    )


def find_network(topology: Topology, name: str) -> NetworkPlan:
    net = topology.network(name)
    if net is None:
        known = ", ".join(n.name for n in topology.networks) or "none"
        raise BackendError(f"cluster {topology.project!r} has no network {name!r} (known: {known})")
    return net


# ip -batch lines -----------------------------------------------------------------------


def bridge_lines(project: str, plan: NetworkPlan) -> list[str]:
    lines = [
        f"link add {plan.bridge} type bridge",
        f'link set {plan.bridge} alias "{plan.label(project)}"',
    ]
    if not plan.internal:  # an internal network has no way out, not even to the host
        lines.append(f"addr add {plan.gateway}/{plan.subnet.prefixlen} dev {plan.bridge}")
    lines.append(f"link set {plan.bridge} up")
    return lines


def veth_lines(project: str, attachment: AttachmentPlan, network: NetworkPlan) -> list[str]:
    netns = naming.netns_name(project, attachment.service)
    return [
        f"link add {attachment.host_if} type veth peer name {attachment.inner_if} netns {netns}",
        f'link set {attachment.host_if} alias "{attachment.label(project)}" '
        f"master {network.bridge} up",
    ]


def inside_lines(topology: Topology, service: str, new: bool) -> Lines:
    """Addresses, links up and the default route inside one namespace (idempotent)."""
    lines = ["link set lo up"] if new else []
    for attachment in topology.of_service(service):
        lines += [
            f"addr replace {attachment.ip}/{attachment.prefix_len} dev {attachment.inner_if}",
            f"link set {attachment.inner_if} up",
        ]
    gateway = default_gateway(topology, service)
    if gateway is not None:
        network = topology.network(gateway.network)
        assert network is not None
        lines.append(f"route replace default via {network.gateway} dev {gateway.inner_if}")
    else:
        lines.append("route flush exact 0.0.0.0/0")
    return tuple(lines)


# iptables ------------------------------------------------------------------------------


def forward_rules(project: str, topology: Topology, saved: Mapping[str, str]) -> str:
    """The project's FORWARD and NAT rules, for `iptables-restore --noflush`: each table
    replaced atomically, the jumps to them added where `saved` (`iptables-save` of the
    filter and nat tables) lacks them.

    Traffic stays inside a bridge (needed where br_netfilter sends bridged frames
    through FORWARD); non-internal networks reach outside through NAT; nothing is
    forwarded between two networks of the cluster or out of an internal one.
    """
    chain = naming.chain_name(project)
    ours = f"{naming.link_prefix(project)}+"
    filter_rules = [f":{chain} - [0:0]"]
    nat_rules = [f":{chain} - [0:0]"]
    for net in topology.networks:
        bridge = net.bridge
        filter_rules.append(f"-A {chain} -i {bridge} -o {bridge} -j ACCEPT")
        if not net.internal:
            filter_rules += [
                f"-A {chain} -i {bridge} ! -o {ours} -j ACCEPT",
                f"-A {chain} -o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            ]
            nat_rules.append(f"-A {chain} -s {net.subnet} ! -o {bridge} -j MASQUERADE")
        filter_rules += [f"-A {chain} -i {bridge} -j DROP", f"-A {chain} -o {bridge} -j DROP"]
    if f"-A FORWARD -j {chain}" not in saved["filter"]:
        filter_rules.append(f"-I FORWARD 1 -j {chain}")
    if f"-A POSTROUTING -j {chain}" not in saved["nat"]:
        nat_rules.append(f"-I POSTROUTING 1 -j {chain}")
    text = "*filter\n" + "\n".join(filter_rules) + "\nCOMMIT\n"
    return text + "*nat\n" + "\n".join(nat_rules) + "\nCOMMIT\n"


RULE_HOOKS = (("filter", "FORWARD"), ("nat", "POSTROUTING"))
"""Where the project's chains are jumped to from, by table."""


def removal_rules(project: str, saved: Mapping[str, str]) -> str:
    """`iptables-restore --noflush` input deleting the project's chains and every jump
    to them that `saved` shows; "" when there is nothing of the project."""
    chain = naming.chain_name(project)
    text = ""
    for table, hook in RULE_HOOKS:
        if f":{chain} " not in saved[table]:
            continue
        jumps = saved[table].count(f"-A {hook} -j {chain}\n")
        lines = [f"-D {hook} -j {chain}"] * jumps + [f"-F {chain}", f"-X {chain}"]
        text += f"*{table}\n" + "\n".join(lines) + "\nCOMMIT\n"
    return text


def rules_present(project: str, saved_filter: str) -> bool:
    return f"-A FORWARD -j {naming.chain_name(project)}" in saved_filter


__all__ = [
    "NetworkChange",
    "Placement",
    "bridge_lines",
    "check_network_modes",
    "find_network",
    "forward_rules",
    "inside_lines",
    "placement",
    "plan_connect",
    "plan_disconnect",
    "plan_new_network",
    "plan_remove_network",
    "plan_up",
    "removal_rules",
    "rules_present",
    "veth_lines",
]
