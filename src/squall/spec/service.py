"""One compose service mapping -> `ServiceSpec`.

Each reader checks types and names against what the file declares, so an error is
raised at the line where it was written; only checks that need every service at
once (cycles, clashing container names) happen later, in `compose.py`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, cast

from squall.spec.container import resources_of, scale_of, settings_of
from squall.spec.envfile import parse_env
from squall.spec.keys import BUILD, DEPENDS_ON, ENV_FILE, HEALTHCHECK, SERVICE, SERVICE_NETWORK
from squall.spec.model import (
    DEFAULT_NETWORK,
    BuildSpec,
    Dependency,
    DependencyCondition,
    FileMount,
    Healthcheck,
    Link,
    NetworkSpec,
    ServiceNetwork,
    ServiceSpec,
)
from squall.spec.mounts import MountContext, host_path, parse_mounts
from squall.spec.node import Node, suggestion
from squall.spec.placement import host_of
from squall.spec.ports import parse_expose, parse_ports
from squall.spec.secrets import Kind
from squall.spec.secrets import parse_mounts as file_mounts
from squall.spec.values import duration, key_values, split_command

T = TypeVar("T")
SERVICE_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")
_CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_RESTART = re.compile(r"^(no|always|unless-stopped|on-failure(:[0-9]+)?)$")
_IMAGE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?"  # registry[:port]/
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?"  # :tag
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"  # @digest
)
_PROFILE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
_REMOTE_CONTEXT = re.compile(r"^([a-z][a-z0-9+.-]*://|git@|github\.com/)", re.IGNORECASE)


@dataclass(frozen=True)
class ServiceContext:
    """What a service may refer to, and where its relative paths start."""

    services: Collection[str]
    networks: Mapping[str, NetworkSpec]
    mounts: MountContext
    images_optional: bool = False  # the file asks for the netns backend: no images run
    secrets: Collection[str] = ()
    configs: Collection[str] = ()

    @property
    def warnings(self) -> list[str]:
        return self.mounts.warnings

    @property
    def variables(self) -> Mapping[str, str]:
        return self.mounts.variables


def parse_service(name: str, node: Node, context: ServiceContext) -> ServiceSpec:
    """Raises: SpecError at the first wrong value of the service."""
    check_name(name, node, "service")
    entries = SERVICE.entries(node, context.warnings)
    if "image" not in entries and "build" not in entries and not context.images_optional:
        node.fail(
            "a service needs 'image' or 'build' (or `--backend netns`, or the file's"
            " `x-squall: {backend: netns}`, which run its command on this host)",
            at_key=True,
        )
    build = _build(entries["build"], context) if "build" in entries else None
    image = _image(entries.get("image"))
    if build is None and image is None and not context.images_optional:
        node.fail("a service needs 'image' or a local 'build' context", at_key=True)
    depends_on = _depends_on(entries["depends_on"], context) if "depends_on" in entries else []
    network_mode = _network_mode(entries, context, depends_on)
    networks = _networks(entries.get("networks"), context)
    if network_mode is None and not networks:
        networks = [ServiceNetwork(DEFAULT_NETWORK)]
    warnings = context.warnings
    host, host_location = host_of(node, entries, warnings)
    return ServiceSpec(
        name=name,
        location=node.key_location,
        image=image,
        build=build,
        command=_read(entries, "command", _command, None),
        entrypoint=_read(entries, "entrypoint", _command, None),
        environment=_environment(entries, context),
        ports=tuple(_read(entries, "ports", lambda n: parse_ports(n, warnings), [])),
        expose=tuple(_read(entries, "expose", parse_expose, [])),
        volumes=tuple(_read(entries, "volumes", lambda n: parse_mounts(n, context.mounts), [])),
        networks=tuple(sorted(networks, key=lambda n: n.name)),
        network_mode=network_mode,
        depends_on=tuple(depends_on),
        links=tuple(_read(entries, "links", lambda n: _links(n, context), [])),
        healthcheck=_read(entries, "healthcheck", lambda n: _healthcheck(n, context), None),
        hostname=_text(entries, "hostname"),
        container_name=_matching(
            entries.get("container_name"), _CONTAINER_NAME, "invalid container name {!r}"
        ),
        cap_add=tuple(_read(entries, "cap_add", Node.texts, [])),
        cap_drop=tuple(_read(entries, "cap_drop", Node.texts, [])),
        privileged=_flag(entries, "privileged"),
        restart=_matching(
            entries.get("restart"),
            _RESTART,
            "unknown restart policy {!r} (expected no, always, on-failure[:N] or unless-stopped)",
        ),
        labels=_read(entries, "labels", key_values, {}),
        working_dir=_text(entries, "working_dir"),
        user=_text(entries, "user"),
        tty=_flag(entries, "tty"),
        stdin_open=_flag(entries, "stdin_open"),
        init=_flag(entries, "init"),
        extra_hosts=tuple(_read(entries, "extra_hosts", _extra_hosts, [])),
        profiles=tuple(_read(entries, "profiles", _profiles, [])),
        scale=scale_of(entries, warnings),
        resources=resources_of(entries, warnings),
        settings=settings_of(entries, warnings, context.variables),
        secrets=tuple(
            _read(
                entries,
                "secrets",
                lambda n: file_mounts(n, "secret", context.secrets, warnings),
                [],
            )
        ),
        configs=tuple(
            _read(
                entries,
                "configs",
                lambda n: file_mounts(n, "config", context.configs, warnings),
                [],
            )
        ),
        host=host,
        host_location=host_location,
    )


def _files(entries: Mapping[str, Node], kind: Kind, context: ServiceContext) -> list[FileMount]:
    key = f"{kind}s"
    if key not in entries or entries[key].value is None:
        return []
    declared = context.secrets if kind == "secret" else context.configs
    return file_mounts(entries[key], kind, declared, context.warnings)


def _read(entries: Mapping[str, Node], key: str, parse: Callable[[Node], T], default: T) -> T:
    item = entries.get(key)
    return default if item is None else parse(item)


def _text(entries: Mapping[str, Node], key: str) -> str | None:
    item = entries.get(key)
    return None if item is None or item.value is None else item.text()


def _flag(entries: Mapping[str, Node], key: str) -> bool:
    item = entries.get(key)
    return False if item is None or item.value is None else item.boolean()


def check_name(name: str, node: Node, what: str) -> None:
    """Names of services, networks and volumes share Compose's pattern."""
    if not SERVICE_NAME.match(name):
        node.fail(f"invalid {what} name {name!r} (use letters, digits, '.', '_', '-')", at_key=True)


def _command(node: Node) -> tuple[str, ...] | None:
    return None if node.value is None else split_command(node)


def _build(node: Node, context: ServiceContext) -> BuildSpec | None:
    if isinstance(node.value, str):
        entries = {"context": node}
    else:
        entries = BUILD.entries(node, context.warnings)
    context_node = entries.get("context")
    where = context_node.text() if context_node is not None else "."
    if _REMOTE_CONTEXT.match(where):
        assert context_node is not None
        context.warnings.append(
            context_node.warning("a remote build context is not supported by squall (ignored)")
        )
        return None
    directory = Path(host_path(context_node or node, where, context.mounts))
    dockerfile = entries["dockerfile"].text() if "dockerfile" in entries else "Dockerfile"
    args = key_values(entries["args"], context.variables) if "args" in entries else {}
    target = entries["target"].text() if "target" in entries else None
    return BuildSpec(context=directory, dockerfile=dockerfile, args=args, target=target)


def _environment(entries: dict[str, Node], context: ServiceContext) -> dict[str, str]:
    """env_file values first, in order, then `environment:` over them (as Compose)."""
    result: dict[str, str] = {}
    if "env_file" in entries:
        for item in entries["env_file"].text_or_texts():
            result.update(_env_file(item, context))
    if "environment" in entries:
        result.update(key_values(entries["environment"], context.variables))
    return result


def _env_file(node: Node, context: ServiceContext) -> dict[str, str]:
    """One `env_file:` entry: a path, or `{path, required}`; missing and required
    is an error at the entry's line."""
    required = True
    if isinstance(node.value, dict):
        entries = ENV_FILE.entries(node, context.warnings)
        if "path" not in entries:
            node.fail("an env_file mapping needs 'path'")
        if "required" in entries:
            required = entries["required"].boolean()
        node = entries["path"]
    path = Path(host_path(node, node.text(), context.mounts))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            node.fail(f"env file {path} does not exist")
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        node.fail(f"cannot read env file {path}: {exc}")
    return parse_env(text, path, context.variables)


def _networks(node: Node | None, context: ServiceContext) -> list[ServiceNetwork]:
    if node is None or node.value is None:
        return []
    if isinstance(node.value, list):
        return [_attachment(item, item.text(), None, context) for item in node.value]
    result = []
    for name, item in node.mapping().items():
        result.append(_attachment(item, name, item, context))
    return result


def _attachment(
    where: Node, name: str, settings: Node | None, context: ServiceContext
) -> ServiceNetwork:
    network = context.networks.get(name)
    if network is None and name != DEFAULT_NETWORK:
        hint = suggestion(name, context.networks)
        where.fail(
            f"network {name!r} is not declared under the top-level 'networks:'{hint}",
            at_key=True,
        )
    if settings is None:
        return ServiceNetwork(name)
    entries = SERVICE_NETWORK.entries(settings, context.warnings)
    aliases = tuple(entries["aliases"].texts()) if "aliases" in entries else ()
    address = None
    if "ipv4_address" in entries:
        address = _ipv4_address(entries["ipv4_address"], network)
    return ServiceNetwork(name, aliases=aliases, ipv4_address=address)


def _ipv4_address(node: Node, network: NetworkSpec | None) -> str:
    text = node.text()
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        node.fail(f"{text!r} is not an IPv4 address")
    subnets = [ipaddress.ip_network(s, strict=False) for s in network.subnets] if network else []
    subnets = [s for s in subnets if s.version == 4]
    if not subnets:
        node.fail("a fixed ipv4_address needs an IPv4 subnet in the network's ipam.config")
    if not any(address in subnet for subnet in subnets):
        listed = ", ".join(str(s) for s in subnets)
        node.fail(f"{text} is not in the network's subnet ({listed})")
    return text


def _network_mode(
    entries: dict[str, Node], context: ServiceContext, depends_on: list[Dependency]
) -> str | None:
    """`network_mode` (or v1's `net`); `service:x` also makes the service wait for x.

    v1's `net: container:x` names a service when x is one (as docker-compose read it).
    """
    node = entries.get("network_mode") or entries.get("net")
    if node is None or node.value is None:
        return None
    if "networks" in entries and entries["networks"].value is not None:
        node.fail("'network_mode' and 'networks' cannot be used together", at_key=True)
    mode = node.text()
    kind, _, target = mode.partition(":")
    if "network_mode" not in entries and kind == "container" and target in context.services:
        kind, mode = "service", f"service:{target}"
    if kind == "service":
        _check_service(node, target, context)
        if all(dependency.service != target for dependency in depends_on):
            depends_on.append(Dependency(target, location=node.location))
    return mode


def _depends_on(node: Node, context: ServiceContext) -> list[Dependency]:
    result = []
    if isinstance(node.value, list):
        for item in node.value:
            _check_service(item, item.text(), context)
            result.append(Dependency(item.text(), location=item.location))
        return result
    for name, item in node.mapping().items():
        _check_service(item, name, context, at_key=True)
        entries = DEPENDS_ON.entries(item, context.warnings)
        condition = "service_started"
        if "condition" in entries:
            condition = entries["condition"].text()
            if condition not in _CONDITIONS:
                entries["condition"].fail(
                    f"unknown condition {condition!r} (expected {', '.join(_CONDITIONS)})"
                )
        required = entries["required"].boolean() if "required" in entries else True
        result.append(
            Dependency(
                name,
                cast(DependencyCondition, condition),
                location=item.key_location,
                required=required,
            )
        )
    return result


def _links(node: Node, context: ServiceContext) -> list[Link]:
    result = []
    for item in node.sequence():
        service, _, alias = item.text().partition(":")
        _check_service(item, service, context)
        result.append(Link(service, alias or service, location=item.location))
    return result


def _check_service(node: Node, name: str, context: ServiceContext, *, at_key: bool = False) -> None:
    if name not in context.services:
        hint = suggestion(name, context.services)
        node.fail(f"unknown service {name!r}{hint}", at_key=at_key)


def _healthcheck(node: Node, context: ServiceContext) -> Healthcheck:
    entries = HEALTHCHECK.entries(node, context.warnings)
    disabled = entries["disable"].boolean() if "disable" in entries else False
    test: tuple[str, ...] = ()
    if "test" in entries:
        test, none = _health_test(entries["test"])
        disabled = disabled or none

    def seconds(key: str, default: float) -> float:
        return duration(entries[key]) if key in entries else default

    return Healthcheck(
        test=test,
        interval=seconds("interval", 30.0),
        timeout=seconds("timeout", 30.0),
        retries=entries["retries"].integer(0, 2**31 - 1) if "retries" in entries else 3,
        start_period=seconds("start_period", 0.0),
        disabled=disabled,
    )


def _health_test(node: Node) -> tuple[tuple[str, ...], bool]:
    """(argv, is NONE); `CMD-SHELL x` and a plain string both run `sh -c x`."""
    if isinstance(node.value, str):
        return ("sh", "-c", node.value), False
    words = node.texts()
    if not words:
        node.fail("a healthcheck test needs at least one word")
    kind, rest = words[0], words[1:]
    if kind == "NONE":
        return (), True
    if kind == "CMD" and rest:
        return tuple(rest), False
    if kind == "CMD-SHELL" and rest:
        return ("sh", "-c", " ".join(rest)), False
    node.fail(f"a healthcheck test is CMD, CMD-SHELL or NONE and a command, got {kind!r}")


def _image(node: Node | None) -> str | None:
    """An image reference as the engine takes it: `[registry/]path[:tag][@digest]`."""
    if node is None or node.value is None:
        return None
    if not isinstance(node.value, str):
        node.expected("an image reference (a string)")
    reference = node.value
    if not _IMAGE.match(reference) or len(reference) > 512:
        node.fail(f"invalid image reference {reference[:80]!r} (example: nginx:1.25)")
    return reference


def _profiles(node: Node) -> list[str]:
    result = []
    for item in node.sequence():
        name = item.text()
        if not _PROFILE.match(name):
            item.fail(f"invalid profile name {name!r} (letters, digits, '_', '.', '-')")
        if name not in result:
            result.append(name)
    return result


def _matching(node: Node | None, pattern: re.Pattern[str], wrong: str) -> str | None:
    """An optional text that must match `pattern`; `wrong` words the error ({!r} = it)."""
    if node is None or node.value is None:
        return None
    text = node.text()
    if not pattern.match(text):
        node.fail(wrong.format(text))
    return text


def _extra_hosts(node: Node) -> list[str]:
    """`host:ip` strings, from a list (`host:ip` or `host=ip`) or a mapping."""
    if isinstance(node.value, dict):
        return [f"{host}:{item.text()}" for host, item in node.value.items()]
    result = []
    for item in node.sequence():
        host, sep, address = item.text().partition("=")
        result.append(f"{host}:{address}" if sep else item.text())
    return result
