"""How each container of a service runs: scale, resources, and engine settings.

These are parsed, validated and kept in the model (and printed by `squall config`);
the backends read what they act on. Memory sizes follow Compose's byte units (`512m`,
`1.5g`, `1024`: binary multiples), durations Go's (`1m30s`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from squall.spec.keys import DEPLOY, HOOK, LOGGING, RESOURCE_LIMITS, RESOURCES, ULIMIT
from squall.spec.model import ContainerSettings, Hook, Logging, Resources, Ulimit
from squall.spec.node import Node
from squall.spec.values import duration, key_values, split_command

MAX_SCALE = 1000
"""Most containers one service may ask for (`deploy.replicas`, `scale`, `--scale`)."""

_BYTES = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgtp]?)(i?b)?\s*$", re.IGNORECASE)
_MULTIPLIER = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_SIGNAL = re.compile(r"^(SIG)?[A-Z][A-Z0-9+-]*$|^[0-9]{1,2}$")
_ULIMIT_NAME = re.compile(r"^[a-z]+$")
_MAX_CPU_SHARES = 262_144


def scale_of(entries: Mapping[str, Node], warnings: list[str]) -> int:
    """`scale:` or `deploy.replicas` (they must agree when both are written)."""
    scale = entries["scale"].integer(0, MAX_SCALE) if "scale" in entries else None
    replicas = None
    if "deploy" in entries:
        deploy = DEPLOY.entries(entries["deploy"], warnings)
        if "replicas" in deploy and deploy["replicas"].value is not None:
            replicas = deploy["replicas"].integer(0, MAX_SCALE)
        if "mode" in deploy and deploy["mode"].text() not in ("replicated", "global"):
            deploy["mode"].fail("expected 'replicated' or 'global'")
        if scale is not None and replicas is not None and scale != replicas:
            deploy["replicas"].fail(f"'scale: {scale}' and 'deploy.replicas: {replicas}' differ")
    if replicas is not None:
        return replicas
    return 1 if scale is None else scale


def resources_of(entries: Mapping[str, Node], warnings: list[str]) -> Resources:
    """`deploy.resources` first, then the older service keys fill what it leaves."""
    limits: dict[str, Node] = {}
    reservations: dict[str, Node] = {}
    if "deploy" in entries:
        deploy = DEPLOY.entries(entries["deploy"], [])
        if "resources" in deploy:
            blocks = RESOURCES.entries(deploy["resources"], warnings)
            if "limits" in blocks:
                limits = RESOURCE_LIMITS.entries(blocks["limits"], warnings)
            if "reservations" in blocks:
                reservations = RESOURCE_LIMITS.entries(blocks["reservations"], warnings)

    def pick(*nodes: Node | None) -> Node | None:
        return next((n for n in nodes if n is not None and n.value is not None), None)

    return Resources(
        cpus=_cpus(pick(limits.get("cpus"), entries.get("cpus"))),
        cpu_shares=_optional_int(entries.get("cpu_shares"), 0, _MAX_CPU_SHARES),
        memory=_bytes(pick(limits.get("memory"), entries.get("mem_limit"))),
        memory_reservation=_bytes(pick(reservations.get("memory"), entries.get("mem_reservation"))),
        cpus_reservation=_cpus(reservations.get("cpus")),
        pids=_optional_int(pick(limits.get("pids"), entries.get("pids_limit")), -1, 2**62),
        shm_size=_bytes(entries.get("shm_size")),
        ulimits=tuple(_ulimits(entries["ulimits"], warnings)) if "ulimits" in entries else (),
    )


def settings_of(
    entries: Mapping[str, Node], warnings: list[str], variables: Mapping[str, str]
) -> ContainerSettings:
    def hooks(key: str) -> tuple[Hook, ...]:
        if key not in entries or entries[key].value is None:
            return ()
        result = []
        for item in entries[key].sequence():
            hook = HOOK.entries(item, warnings)
            if "command" not in hook:
                item.fail("a hook needs 'command'")
            result.append(
                Hook(
                    command=split_command(hook["command"]),
                    user=hook["user"].text() if "user" in hook else None,
                    privileged=hook["privileged"].boolean() if "privileged" in hook else False,
                    working_dir=hook["working_dir"].text() if "working_dir" in hook else None,
                    environment=key_values(hook["environment"], variables)
                    if "environment" in hook
                    else {},
                )
            )
        return tuple(result)

    return ContainerSettings(
        read_only=entries["read_only"].boolean() if _set(entries, "read_only") else False,
        tmpfs=tuple(_tmpfs(entries["tmpfs"])) if _set(entries, "tmpfs") else (),
        sysctls=key_values(entries["sysctls"]) if _set(entries, "sysctls") else {},
        dns=tuple(_dns(entries["dns"])) if _set(entries, "dns") else (),
        dns_search=tuple(i.text() for i in entries["dns_search"].text_or_texts())
        if _set(entries, "dns_search")
        else (),
        logging=_logging(entries["logging"], warnings) if _set(entries, "logging") else None,
        stop_signal=_signal(entries["stop_signal"]) if _set(entries, "stop_signal") else None,
        stop_grace_period=duration(entries["stop_grace_period"])
        if _set(entries, "stop_grace_period")
        else None,
        post_start=hooks("post_start"),
        pre_stop=hooks("pre_stop"),
    )


def byte_size(node: Node) -> int:
    """A size in bytes: a number, or `512m`, `1.5g`, `100kb` (binary multiples)."""
    value = node.value
    if isinstance(value, int) and not isinstance(value, bool):
        return node.integer(0)
    match = _BYTES.match(node.text()) if isinstance(value, str) and len(value) <= 40 else None
    if match is None:
        node.fail(f"invalid size {node.text()!r} (examples: 512m, 1.5g, 1048576)")
    size = int(float(match.group(1)) * _MULTIPLIER[match.group(2).lower()])
    if size > 2**63 - 1:
        node.fail(f"size {node.text()!r} is out of range")
    return size


def _set(entries: Mapping[str, Node], key: str) -> bool:
    return key in entries and entries[key].value is not None


def _bytes(node: Node | None) -> int | None:
    return None if node is None or node.value is None else byte_size(node)


def _cpus(node: Node | None) -> float | None:
    if node is None or node.value is None:
        return None
    cpus = node.number()
    if cpus < 0:
        node.fail(f"cpus must not be negative, got {cpus}")
    return cpus


def _optional_int(node: Node | None, low: int, high: int) -> int | None:
    return None if node is None or node.value is None else node.integer(low, high)


def _ulimits(node: Node, warnings: list[str]) -> list[Ulimit]:
    result = []
    for name, item in node.mapping().items():
        if not _ULIMIT_NAME.match(name):
            item.fail(f"invalid ulimit name {name!r}", at_key=True)
        if isinstance(item.value, dict):
            limits = ULIMIT.entries(item, warnings)
            for key in ("soft", "hard"):
                if key not in limits:
                    item.fail(f"a ulimit mapping needs {key!r}")
            soft, hard = limits["soft"].integer(-1), limits["hard"].integer(-1)
            if hard != -1 and (soft == -1 or soft > hard):
                limits["soft"].fail(f"the soft limit {soft} is above the hard limit {hard}")
        else:
            soft = hard = item.integer(-1)
        result.append(Ulimit(name, soft, hard))
    return result


def _tmpfs(node: Node) -> list[str]:
    result = []
    for item in node.text_or_texts():
        text = item.text()
        if not text.startswith("/"):
            item.fail(f"the tmpfs path {text!r} must be absolute")
        result.append(text)
    return result


def _dns(node: Node) -> list[str]:
    result = []
    for item in node.text_or_texts():
        text = item.text()
        try:
            ipaddress.ip_address(text)
        except ValueError:
            item.fail(f"{text!r} is not an IP address (a DNS server)")
        result.append(text)
    return result


def _logging(node: Node, warnings: list[str]) -> Logging:
    entries = LOGGING.entries(node, warnings)
    driver = entries["driver"].text() if _set(entries, "driver") else None
    options = key_values(entries["options"]) if _set(entries, "options") else {}
    return Logging(driver, options)


def _signal(node: Node) -> str:
    text = node.text()
    if not _SIGNAL.match(text):
        node.fail(f"invalid signal {text!r} (examples: SIGTERM, SIGINT, 9)")
    return text
