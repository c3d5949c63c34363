"""`ports:` and `expose:` entries, short syntax (`[IP:][HOST:]CONTAINER[/PROTO]`) and long."""

from __future__ import annotations

import ipaddress
from typing import cast

from squall.spec.keys import PORT
from squall.spec.model import PortMapping, Protocol
from squall.spec.node import Node

_PROTOCOLS = ("tcp", "udp", "sctp")


def parse_port_spec(text: str) -> list[PortMapping]:
    """The mappings one short-syntax entry stands for (a range gives several).

    Raises:
        ValueError: with a message fit for the user.
    """
    body, slash, protocol = text.strip().partition("/")
    if slash and protocol not in _PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r} (expected tcp, udp or sctp)")
    host_ip, host, container = _split_port_parts(body, text)
    targets = _port_range(container, text)
    published: list[int | None]
    if host:
        host_ports = _port_range(host, text, allow_zero=True)
        if len(host_ports) != len(targets):
            raise ValueError(f"the host and container port ranges of {text!r} differ in length")
        published = [port or None for port in host_ports]
    else:
        published = [None] * len(targets)
    proto = cast(Protocol, protocol or "tcp")
    return [
        PortMapping(target=target, published=pub, host_ip=host_ip, protocol=proto)
        for target, pub in zip(targets, published, strict=True)
    ]


def port_text(mapping: PortMapping) -> str:
    """A mapping back in short syntax, as `docker ps` would print it."""
    text = str(mapping.target)
    if mapping.published is not None or mapping.host_ip:
        text = f"{mapping.published or ''}:{text}"
    if mapping.host_ip:
        host_ip = f"[{mapping.host_ip}]" if ":" in mapping.host_ip else mapping.host_ip
        text = f"{host_ip}:{text}"
    return f"{text}/{mapping.protocol}"


def parse_ports(node: Node, warnings: list[str]) -> list[PortMapping]:
    """All mappings of a service's `ports:` list."""
    result: list[PortMapping] = []
    for item in node.sequence():
        if isinstance(item.value, dict):
            result.extend(_long_port(item, warnings))
            continue
        if isinstance(item.value, bool) or not isinstance(item.value, int | str):
            item.expected("a port (number, string or mapping)")
        try:
            result.extend(parse_port_spec(str(item.value)))
        except ValueError as exc:
            item.fail(str(exc))
    return result


def parse_expose(node: Node) -> list[int]:
    """Ports of `expose:` (`80`, `"80/tcp"`, `"8000-8010"`), without repeats."""
    ports: list[int] = []
    for item in node.sequence():
        if isinstance(item.value, bool) or not isinstance(item.value, int | str):
            item.expected("a port (number or string)")
        text = str(item.value)
        body, _, protocol = text.partition("/")
        try:
            if protocol and protocol not in _PROTOCOLS:
                raise ValueError(f"unknown protocol {protocol!r}")
            for port in _port_range(body, text):
                if port not in ports:
                    ports.append(port)
        except ValueError as exc:
            item.fail(str(exc))
    return ports


def _long_port(node: Node, warnings: list[str]) -> list[PortMapping]:
    entries = PORT.entries(node, warnings)
    if "target" not in entries:
        node.fail("a port mapping needs 'target'")
    target = entries["target"]
    try:
        targets = _port_range(target.text(), target.text())
    except ValueError as exc:
        target.fail(str(exc))
    if len(targets) != 1:
        target.fail("expected one port")
    published: int | None = None
    if "published" in entries and entries["published"].value not in (None, ""):
        item = entries["published"]
        try:
            ports = _port_range(item.text(), item.text(), allow_zero=True)
        except ValueError as exc:
            item.fail(str(exc))
        if len(ports) != 1:
            item.fail("a host port range for one container port is not supported by squall")
        published = ports[0] or None
    host_ip = None
    if "host_ip" in entries:
        host_ip = entries["host_ip"].ip_address()
    protocol = "tcp"
    if "protocol" in entries:
        protocol = entries["protocol"].text().lower()
        if protocol not in _PROTOCOLS:
            entries["protocol"].fail(f"unknown protocol {protocol!r} (expected tcp, udp or sctp)")
    mapping = PortMapping(
        target=targets[0],
        published=published,
        host_ip=host_ip,
        protocol=cast(Protocol, protocol),
    )
    return [mapping]


def _split_port_parts(body: str, text: str) -> tuple[str | None, str, str]:
    """(host IP, host port(s), container port(s)) of a short-syntax entry."""
    if body.startswith("["):
        close = body.find("]")
        if close < 0 or body[close + 1 : close + 2] != ":":
            raise ValueError(f"invalid port mapping {text!r}")
        host_ip = body[1:close]
        host, sep, container = body[close + 2 :].partition(":")
        if not sep:
            raise ValueError(f"invalid port mapping {text!r}")
    else:
        parts = body.rsplit(":", 2)
        if len(parts) == 1:
            return None, "", parts[0]
        if len(parts) == 2:
            return None, parts[0], parts[1]
        host_ip, host, container = parts
    try:
        ipaddress.ip_address(host_ip)
    except ValueError:
        raise ValueError(f"invalid host IP {host_ip!r} in {text!r}") from None
    return host_ip, host, container


def _port_range(text: str, whole: str, *, allow_zero: bool = False) -> list[int]:
    first, dash, last = text.strip().partition("-")
    low = _port(first, whole, allow_zero)
    high = _port(last, whole, allow_zero) if dash else low
    if high < low:
        raise ValueError(f"port range {text!r} ends before it starts")
    return list(range(low, high + 1))


def _port(text: str, whole: str, allow_zero: bool) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"invalid port {text!r} in {whole!r}")
    port = int(text)
    if not (0 if allow_zero else 1) <= port <= 65535:
        raise ValueError(f"port {port} out of range in {whole!r}")
    return port
