"""Both `docker-compose config` (1.29) and `squall config --format json` brought to one
canonical form, field by field, so they can be compared on what both understand.

Each canonical field is a plain comparable value: commands as argv, ports as
(host_ip, published, target, protocol), volumes as (type, source, target, read_only),
durations in seconds, sizes in bytes.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from squall.errors import SquallError
from squall.spec.loader import ProjectRequest, load_project

Canon = dict[str, Any]

_DURATION = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def scratch_project(path: Path, root: Path, environ: Mapping[str, str]) -> Path:
    """A project directory under `root` holding the build contexts `path` names, so
    docker-compose 1.29 (which refuses absent ones) reads the file where it lies."""
    directory = root / path.parent.name
    directory.mkdir()
    request = ProjectRequest(files=(path,), project_directory=directory, cwd=directory)
    try:
        spec = load_project(replace_environ(request, environ))
    except SquallError:
        return directory
    for service in spec.services:
        if service.build is not None and directory in service.build.context.parents:
            service.build.context.mkdir(parents=True, exist_ok=True)
    return directory


def replace_environ(request: ProjectRequest, environ: Mapping[str, str]) -> ProjectRequest:
    return dataclasses.replace(request, environ=environ)


def seconds(value: object) -> float:
    if isinstance(value, int | float):
        return float(value)
    return round(sum(float(n) * _SECONDS[u] for n, u in _DURATION.findall(str(value))), 6)


def size(value: object) -> int:
    match = re.match(r"^([0-9.]+)\s*([kmg]?)b?$", str(value).lower())
    assert match, value
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def argv(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(value)
    assert isinstance(value, list), value
    return [str(v) for v in value]


def mapping(value: object, separator: str = "=") -> dict[str, str]:
    """A list-or-dict block as str -> str (entries without a value left out)."""
    if isinstance(value, list):
        pairs = [str(item).partition(separator) for item in value]
        return {k: v for k, sep, v in pairs if sep}
    assert isinstance(value, dict)
    return {str(k): _text(v) for k, v in value.items() if v is not None}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def port(value: object) -> tuple[object, ...]:
    if isinstance(value, dict):
        published = value.get("published")
        return (
            value.get("host_ip"),
            int(published) if published not in (None, "") else None,
            int(value["target"]),
            value.get("protocol", "tcp"),
        )
    text = str(value)
    body, _, protocol = text.partition("/")
    parts = body.rsplit(":", 2)
    host_ip = parts[0] if len(parts) == 3 else None
    published = int(parts[-2]) if len(parts) >= 2 and parts[-2] else None
    return (host_ip, published, int(parts[-1]), protocol or "tcp")


def volume(value: object) -> tuple[object, ...]:
    if isinstance(value, dict):
        return (value["type"], value.get("source"), value["target"], bool(value.get("read_only")))
    parts = str(value).split(":")
    if len(parts) == 1:
        return ("volume", None, parts[0], False)
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) > 2 else "rw"
    kind = "bind" if source.startswith("/") else "volume"
    return (kind, source, target, "ro" in mode.split(","))


def healthcheck(value: Mapping[str, Any]) -> Canon:
    if value.get("disable"):
        return {"disable": True}
    test = value.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    out: Canon = {"test": test}
    for key, default in (("interval", 30), ("timeout", 30), ("start_period", 0)):
        out[key] = seconds(value.get(key, default))
    out["retries"] = int(value.get("retries", 3))
    return out


def depends_on(value: object) -> dict[str, str]:
    if isinstance(value, list):
        return {str(name): "service_started" for name in value}
    assert isinstance(value, dict)
    return {name: (spec or {}).get("condition", "service_started") for name, spec in value.items()}


def networks(value: object) -> dict[str, list[str]]:
    if isinstance(value, list):
        return {str(name): [] for name in value}
    assert isinstance(value, dict)
    return {name: sorted((spec or {}).get("aliases", [])) for name, spec in value.items()}


def memory_limit(service: Mapping[str, Any]) -> int | None:
    limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
    value = limits.get("memory", service.get("mem_limit"))
    return None if value is None else size(value)


def cpus_limit(service: Mapping[str, Any]) -> float | None:
    limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
    value = limits.get("cpus", service.get("cpus"))
    return None if value is None else float(value)


def replicas(service: Mapping[str, Any]) -> int:
    return int(service.get("deploy", {}).get("replicas", service.get("scale", 1)))


def as_list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


FIELDS: dict[str, Callable[[Any], object]] = {
    "image": str,
    "command": argv,
    "entrypoint": argv,
    "environment": mapping,
    "ports": lambda v: sorted(port(p) for p in v),
    "expose": lambda v: sorted({str(p) for p in v}),
    "volumes": lambda v: sorted(volume(m) for m in v),
    "networks": networks,
    "network_mode": str,
    "depends_on": depends_on,
    "healthcheck": healthcheck,
    "container_name": str,
    "hostname": str,
    "restart": str,
    "working_dir": str,
    "user": str,
    "privileged": bool,
    "tty": bool,
    "stdin_open": bool,
    "init": bool,
    "cap_add": sorted,
    "cap_drop": sorted,
    "labels": mapping,
    "extra_hosts": lambda v: mapping(v, ":"),
    "dns": as_list,
    "dns_search": as_list,
    "tmpfs": as_list,
    "read_only": bool,
    "sysctls": mapping,
    "stop_signal": str,
    "stop_grace_period": seconds,
    "links": sorted,
}
"""Service fields both tools print, and how each becomes canonical."""

DERIVED: dict[str, Callable[[Mapping[str, Any]], object]] = {
    "memory": memory_limit,
    "cpus": cpus_limit,
    "replicas": replicas,
}


def service(data: Mapping[str, Any]) -> Canon:
    """One service's canonical fields; a field written by neither side is absent."""
    out: Canon = {key: FIELDS[key](value) for key, value in data.items() if key in FIELDS}
    for key, derive in DERIVED.items():
        value = derive(data)
        if value is not None and not (key == "replicas" and value == 1):
            out[key] = value
    if out.get("networks") == {"default": []}:
        del out["networks"]  # docker-compose 1.29 leaves the implicit default unsaid
    for key in ("privileged", "tty", "stdin_open", "init", "read_only"):
        if out.get(key) is False:
            del out[key]
    return out


def project(data: Mapping[str, Any]) -> Canon:
    """Services, and the names (and drivers, externality) of networks and volumes."""
    out: Canon = {
        "services": {name: service(spec) for name, spec in data.get("services", {}).items()}
    }
    for block in ("networks", "volumes"):
        entries = {
            name: (bool((spec or {}).get("external")), (spec or {}).get("driver"))
            for name, spec in (data.get(block) or {}).items()
            if name != "default"
        }
        out[block] = {
            name: (external, None if external else (driver or _default(block)))
            for name, (external, driver) in entries.items()
        }
    out["secrets"] = sorted((data.get("secrets") or {}).keys())
    return out


def _default(block: str) -> str:
    return "bridge" if block == "networks" else "local"
