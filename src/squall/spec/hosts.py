"""Several Docker Engines in one cluster file: `x-squall: hosts`, `zones` and `wan`.

```yaml
x-squall:
  hosts:
    h1: {engine: "unix:///var/run/docker.sock"}
    h2: {engine: "ssh://ops@10.0.0.2", address: 10.0.0.2, agent: always}
    h3: {engine: "tcp://10.0.0.3:2376", tls: {ca: ca.pem, cert: cert.pem, key: key.pem}}
  zones: {eu: [h1, h2], us: [h3]}
  wan: {eu-us: {rtt: 80ms, jitter: 5ms, loss: 0.1%, rate: 200mbit}}
```

Engine URLs are written as `DOCKER_HOST` is. A zone names hosts or services (on one
host, zones of services emulate regions). A `wan` key joins two zone names with `-`
(the split that names two known zones). `-H NAME=URL` on the command line adds or
overrides hosts (`with_hosts`), after which `check_hosts` checks what refers to them.
Everything here is pure: no engine is contacted.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from squall.errors import Location, SpecError, UsageError
from squall.spec.keys import Keys
from squall.spec.model import ClusterSpec, HostSpec, TlsFiles, WanLink
from squall.spec.node import Node, suggestion
from squall.units import parse_duration, parse_percent, parse_rate

AgentMode = Literal["auto", "always"]
SCHEMES = ("unix", "tcp", "ssh", "http", "https")
HOST_KEYS = Keys(read=frozenset({"engine", "tls", "address", "agent"}))
TLS_KEYS = Keys(read=frozenset({"ca", "cert", "key", "verify"}))
WAN_KEYS = Keys(read=frozenset({"rtt", "jitter", "loss", "rate"}))
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def engine_error(url: str) -> str | None:
    """Why `url` is not an engine address in `DOCKER_HOST` syntax, or None."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        return f"engine {url!r}: expected {', '.join(s + '://' for s in SCHEMES)}"
    if parts.scheme == "unix":
        return None if parts.path.startswith("/") else f"engine {url!r}: needs a socket path"
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        return f"engine {url!r}: the port is not a number"
    return None if parts.hostname else f"engine {url!r}: needs a host name"


def read_hosts(node: Node | None, project_dir: Path, warnings: list[str]) -> tuple[HostSpec, ...]:
    """`x-squall: hosts`, sorted by name.

    Raises:
        SpecError: a wrong name, URL, TLS file entry or agent mode, naming its line.
    """
    if node is None:
        return ()
    hosts = []
    for name, child in node.optional_mapping().items():
        _check_name(name, child, "host")
        entries = HOST_KEYS.entries(child, warnings)
        if "engine" not in entries:
            child.fail("a host needs 'engine' (a URL in DOCKER_HOST syntax)", at_key=True)
        url = entries["engine"].text()
        problem = engine_error(url)
        if problem:
            entries["engine"].fail(problem)
        agent = entries["agent"].text() if "agent" in entries else "auto"
        if agent not in ("auto", "always"):
            entries["agent"].fail(f"unknown agent mode {agent!r} (auto or always)")
        address = entries["address"].ip_address() if "address" in entries else None
        tls = _tls(entries["tls"], project_dir, warnings) if "tls" in entries else None
        hosts.append(
            HostSpec(
                name=name,
                engine=url,
                tls=tls,
                address=address,
                agent="always" if agent == "always" else "auto",
                location=child.key_location,
            )
        )
    return tuple(sorted(hosts, key=lambda h: h.name))


def _check_name(name: str, node: Node, what: str) -> None:
    if not _NAME.match(name):
        node.fail(f"invalid {what} name {name!r} (letters, digits, '.', '_', '-')", at_key=True)


def _tls(node: Node, project_dir: Path, warnings: list[str]) -> TlsFiles:
    if isinstance(node.value, bool | str):
        if not node.boolean():
            return TlsFiles(enabled=False)
        return TlsFiles()
    entries = TLS_KEYS.entries(node, warnings)

    def path(key: str) -> str | None:
        if key not in entries:
            return None
        written = Path(entries[key].text()).expanduser()
        return str(written if written.is_absolute() else project_dir / written)

    if ("cert" in entries) != ("key" in entries):
        node.fail("tls: 'cert' and 'key' go together")
    verify = entries["verify"].boolean() if "verify" in entries else True
    return TlsFiles(ca=path("ca"), cert=path("cert"), key=path("key"), verify=verify)


def read_zones(node: Node | None) -> dict[str, tuple[str, ...]]:
    """`x-squall: zones`: zone -> the hosts or services it names (checked later)."""
    if node is None:
        return {}
    zones: dict[str, tuple[str, ...]] = {}
    for name, child in node.optional_mapping().items():
        _check_name(name, child, "zone")
        members = tuple(child.texts())
        if not members:
            child.fail("a zone names at least one host or service")
        zones[name] = members
    return zones


def read_wan(
    node: Node | None, zones: Mapping[str, Sequence[str]], warnings: list[str]
) -> tuple[WanLink, ...]:
    """`x-squall: wan`: one link per pair of zones.

    Raises:
        SpecError: a key that names no two zones, a pair given twice, a wrong value.
    """
    if node is None:
        return ()
    links: dict[tuple[str, str], WanLink] = {}
    for key, child in node.optional_mapping().items():
        pair = split_pair(key, zones)
        if pair is None:
            known = ", ".join(sorted(zones)) or "none declared"
            child.fail(f"{key!r} names no two zones joined by '-' (zones: {known})", at_key=True)
        if _sorted_pair(pair) in links:
            child.fail(f"zones {pair[0]} and {pair[1]} have a wan entry already", at_key=True)
        entries = WAN_KEYS.entries(child, warnings)
        if "rtt" not in entries:
            child.fail("a wan link needs 'rtt' (e.g. 80ms)", at_key=True)
        values = _wan_values(entries)
        links[_sorted_pair(pair)] = WanLink(
            zones=pair,
            rtt=values["rtt"],
            jitter=values.get("jitter"),
            loss=values.get("loss"),
            rate=values.get("rate"),
            location=child.key_location,
        )
    return tuple(links[k] for k in sorted(links))


def _sorted_pair(pair: tuple[str, str]) -> tuple[str, str]:
    return (pair[0], pair[1]) if pair[0] <= pair[1] else (pair[1], pair[0])


def _wan_values(entries: Mapping[str, Node]) -> dict[str, str]:
    """The values as written, each checked by the one parser of its unit."""
    values: dict[str, str] = {}
    for key, child in entries.items():
        text = child.text()
        try:
            if key in ("rtt", "jitter"):
                parse_duration(text)
            elif key == "loss":
                parse_percent(text)
            else:
                parse_rate(text)
        except UsageError as exc:
            child.fail(exc.message)
        values[key] = text
    return values


def split_pair(key: str, zones: Mapping[str, object]) -> tuple[str, str] | None:
    """`eu-us` -> ("eu", "us"): the split at a `-` that names two different known zones."""
    for index, char in enumerate(key):
        if char == "-":
            left, right = key[:index], key[index + 1 :]
            if left in zones and right in zones and left != right:
                return left, right
    return None


def parse_host_flag(text: str) -> HostSpec:
    """`-H NAME=URL`.

    Raises:
        UsageError: not NAME=URL, a bad name, or a URL not in DOCKER_HOST syntax.
    """
    name, sep, url = text.partition("=")
    if not sep or not name or not url:
        raise UsageError(f"-H {text}: expected NAME=URL (e.g. h2=ssh://ops@10.0.0.2)")
    if not _NAME.match(name):
        raise UsageError(f"-H {text}: invalid host name {name!r}")
    problem = engine_error(url)
    if problem:
        raise UsageError(f"-H {text}: {problem}")
    return HostSpec(name=name, engine=url)


def with_hosts(spec: ClusterSpec, flags: Sequence[str]) -> ClusterSpec:
    """The spec with `-H NAME=URL` flags added or overriding (keeping a file host's tls,
    address and agent mode), then checked with `check_hosts`.

    Raises:
        UsageError: a flag is not NAME=URL.
        SpecError: placement or zones name a host that is not declared.
    """
    hosts = {h.name: h for h in spec.options.hosts}
    for flag in flags:
        given = parse_host_flag(flag)
        known = hosts.get(given.name)
        hosts[given.name] = (
            given if known is None else dataclasses.replace(known, engine=given.engine)
        )
    if flags:
        options = dataclasses.replace(
            spec.options, hosts=tuple(hosts[name] for name in sorted(hosts))
        )
        spec = dataclasses.replace(spec, options=options)
    check_hosts(spec)
    return spec


def check_hosts(spec: ClusterSpec) -> None:
    """Placement, zones and wan refer only to what exists.

    Raises:
        SpecError: naming the service's or zone's line.
    """
    options = spec.options
    hosts = {h.name for h in options.hosts}
    for service in spec.services:
        if service.host is not None and service.host not in hosts:
            known = ", ".join(sorted(hosts)) or "none declared in x-squall.hosts"
            hint = suggestion(service.host, hosts)
            raise SpecError(
                f"unknown host {service.host!r} (hosts: {known}){hint}",
                service.host_location or service.location,
                field=f"services.{service.name}.x-squall.host",
            )
    names = hosts | set(spec.service_names)
    seen: dict[str, str] = {}
    for zone, members in sorted(options.zones.items()):
        for member in members:
            if member not in names:
                hint = suggestion(member, names)
                raise SpecError(
                    f"zone {zone!r} names {member!r}, which is neither a host nor a service{hint}",
                    _zones_location(spec),
                    field=f"x-squall.zones.{zone}",
                )
            if member in seen and seen[member] != zone:
                raise SpecError(
                    f"{member!r} is in zones {seen[member]!r} and {zone!r} (one zone each)",
                    _zones_location(spec),
                    field=f"x-squall.zones.{zone}",
                )
            seen[member] = zone


def _zones_location(spec: ClusterSpec) -> Location:
    return spec.options.zones_location or Location(spec.source)


def zone_of(spec: ClusterSpec, service: str, host: str | None) -> str | None:
    """The zone a service is in: its own name listed, else its host's."""
    for zone, members in spec.options.zones.items():
        if service in members:
            return zone
    for zone, members in spec.options.zones.items():
        if host is not None and host in members:
            return zone
    return None


@dataclass(frozen=True)
class Placement:
    """Where each container of the cluster runs: (service, replica number) -> host."""

    hosts: Mapping[tuple[str, int], str] = field(default_factory=dict)

    def host_of(self, service: str, number: int = 1) -> str | None:
        return self.hosts.get((service, number))

    def on(self, host: str) -> dict[str, tuple[int, ...]]:
        """service -> the replica numbers that run on `host`."""
        found: dict[str, list[int]] = {}
        for (service, number), name in sorted(self.hosts.items()):
            if name == host:
                found.setdefault(service, []).append(number)
        return {service: tuple(numbers) for service, numbers in found.items()}


def place(spec: ClusterSpec) -> Placement:
    """Each container's host: its service's `host`, else spread round-robin over the
    hosts in name order (replica n of a service on host (n-1) mod H, counted on from
    where the previous unplaced service left off, so singles spread too). Empty when
    the file declares no hosts."""
    names = [h.name for h in spec.options.hosts]
    if not names:
        return Placement()
    placed: dict[tuple[str, int], str] = {}
    turn = 0
    for service in spec.services:
        for number in range(1, service.scale + 1):
            if service.host is not None:
                placed[(service.name, number)] = service.host
            else:
                placed[(service.name, number)] = names[turn % len(names)]
                turn += 1
    return Placement(placed)


__all__ = [
    "AgentMode",
    "Placement",
    "check_hosts",
    "engine_error",
    "parse_host_flag",
    "place",
    "read_hosts",
    "read_wan",
    "read_zones",
    "split_pair",
    "with_hosts",
    "zone_of",
]
