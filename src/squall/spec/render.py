"""The resolved model printed in Compose's own shape, as `docker compose config` does.

Pure: a `ClusterSpec` in, plain data (or its YAML / JSON text) out, so a user can diff
what Squall will run against what Compose would. Long syntax everywhere (ports,
volumes, depends_on), absolute paths, durations as Go writes them (`1m30s`), sizes in
bytes, keys sorted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from squall.spec.model import (
    ClusterSpec,
    ContainerSettings,
    FileMount,
    FileSpec,
    Healthcheck,
    Hook,
    NetworkSpec,
    PortMapping,
    Resources,
    ServiceSpec,
    VolumeMount,
    VolumeSpec,
)

Data = dict[str, Any]
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def render(spec: ClusterSpec) -> Data:
    """The whole project as Compose prints it (`name`, `services`, `networks`, ...).

    A literal `$` in a value is written `$$`, as Compose prints it, so the output is
    itself a compose file that reads back to the same model.
    """
    data: Data = _escaped(_render(spec))
    return data


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return value


def _render(spec: ClusterSpec) -> Data:
    data: Data = {"name": spec.name}
    data["services"] = {service.name: render_service(service) for service in spec.services}
    if spec.networks:
        data["networks"] = {n.name: _network(n, spec.name) for n in spec.networks}
    if spec.volumes:
        data["volumes"] = {v.name: _volume(v, spec.name) for v in spec.volumes}
    if spec.secrets:
        data["secrets"] = {s.name: _file_spec(s, spec.name) for s in spec.secrets}
    if spec.configs:
        data["configs"] = {c.name: _file_spec(c, spec.name) for c in spec.configs}
    if spec.options.raw:
        data["x-squall"] = dict(spec.options.raw)
    return data


def image_name(service: ServiceSpec, project: str) -> str:
    """The image a service runs: its `image`, else the one Compose names for its build."""
    return service.image or f"{project}-{service.name}"


def to_yaml(data: Data) -> str:
    text: str = yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    return text


def to_json(data: Data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def go_duration(seconds: float) -> str:
    """`1m30s`, `10s`, `500ms`: how Go (and so Compose) prints a duration."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    sign, nanos = ("-", -nanos) if nanos < 0 else ("", nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return f"{sign}{_trim(nanos / size)}{unit}"
    hours, rest = divmod(nanos, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    text = f"{_trim(rest / 1e9)}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _trim(number: float) -> str:
    return f"{number:.9f}".rstrip("0").rstrip(".")


def render_service(service: ServiceSpec) -> Data:
    out: Data = {}
    if service.build is not None:
        build: Data = {
            "context": str(service.build.context),
            "dockerfile": service.build.dockerfile,
        }
        if service.build.args:
            build["args"] = dict(service.build.args)
        if service.build.target:
            build["target"] = service.build.target
        out["build"] = build
    _put(out, "command", list(service.command) if service.command is not None else None)
    _put(out, "entrypoint", list(service.entrypoint) if service.entrypoint is not None else None)
    _put(out, "environment", dict(service.environment) or None)
    _put(out, "ports", [_port(p) for p in service.ports] or None)
    _put(out, "expose", [str(port) for port in service.expose] or None)
    _put(out, "volumes", [_mount(m) for m in service.volumes] or None)
    if service.network_mode is not None:
        out["network_mode"] = service.network_mode
    elif service.networks:
        out["networks"] = {
            n.name: _drop_empty({"aliases": list(n.aliases), "ipv4_address": n.ipv4_address})
            or None
            for n in service.networks
        }
    _put(out, "depends_on", _depends_on(service) or None)
    _put(out, "links", [f"{link.service}:{link.alias}" for link in service.links] or None)
    if service.healthcheck is not None:
        out["healthcheck"] = _healthcheck(service.healthcheck)
    for key in ("hostname", "container_name", "restart", "working_dir", "user", "image"):
        _put(out, key, getattr(service, key))
    for key in ("privileged", "tty", "stdin_open", "init"):
        _put(out, key, getattr(service, key) or None)
    _put(out, "cap_add", list(service.cap_add) or None)
    _put(out, "cap_drop", list(service.cap_drop) or None)
    _put(out, "labels", dict(service.labels) or None)
    _put(out, "extra_hosts", list(service.extra_hosts) or None)
    _put(out, "profiles", list(service.profiles) or None)
    _resources(out, service)
    _settings(out, service.settings)
    _put(out, "secrets", [_file_mount(m) for m in service.secrets] or None)
    _put(out, "configs", [_file_mount(m) for m in service.configs] or None)
    return dict(sorted(out.items()))


def _put(out: Data, key: str, value: object) -> None:
    if value is not None:
        out[key] = value


def _drop_empty(data: Mapping[str, Any]) -> Data:
    return {key: value for key, value in data.items() if value not in (None, [], {}, False)}


def _port(port: PortMapping) -> Data:
    out: Data = {"mode": "ingress", "target": port.target, "protocol": port.protocol}
    if port.host_ip:
        out["host_ip"] = port.host_ip
    if port.published is not None:
        out["published"] = str(port.published)
    return out


def _mount(mount: VolumeMount) -> Data:
    out: Data = {"type": mount.type}
    if mount.source is not None:
        out["source"] = mount.source
    out["target"] = mount.target
    if mount.read_only:
        out["read_only"] = True
    if mount.type == "bind":
        out["bind"] = {"create_host_path": True}
    return out


def _depends_on(service: ServiceSpec) -> Data:
    return {
        d.service: {"condition": d.condition, "required": d.required} for d in service.depends_on
    }


def _healthcheck(check: Healthcheck) -> Data:
    if check.disabled:
        return {"disable": True}
    out: Data = {}
    test = list(check.test)
    if len(test) == 3 and test[:2] == ["sh", "-c"]:
        out["test"] = ["CMD-SHELL", test[2]]
    elif test:
        out["test"] = ["CMD", *test]
    return {
        **out,
        "interval": go_duration(check.interval),
        "timeout": go_duration(check.timeout),
        "retries": check.retries,
        "start_period": go_duration(check.start_period),
    }


def _resources(out: Data, service: ServiceSpec) -> None:
    res: Resources = service.resources
    limits = _drop_empty(
        {
            "cpus": _cpus(res.cpus),
            "memory": _size(res.memory),
            "pids": res.pids,
        }
    )
    reservations = _drop_empty(
        {"cpus": _cpus(res.cpus_reservation), "memory": _size(res.memory_reservation)}
    )
    deploy: Data = {}
    if service.scale != 1:
        deploy["replicas"] = service.scale
    resources = _drop_empty({"limits": limits, "reservations": reservations})
    if resources:
        deploy["resources"] = resources
    _put(out, "deploy", deploy or None)
    _put(out, "cpu_shares", res.cpu_shares)
    _put(out, "shm_size", _size(res.shm_size))
    if res.ulimits:
        out["ulimits"] = {
            u.name: u.soft if u.soft == u.hard else {"soft": u.soft, "hard": u.hard}
            for u in res.ulimits
        }


def _cpus(cpus: float | None) -> str | None:
    return None if cpus is None else _trim(cpus)


def _size(size: int | None) -> str | None:
    return None if size is None else str(size)


def _settings(out: Data, settings: ContainerSettings) -> None:
    _put(out, "read_only", settings.read_only or None)
    _put(out, "tmpfs", list(settings.tmpfs) or None)
    _put(out, "sysctls", dict(settings.sysctls) or None)
    _put(out, "dns", list(settings.dns) or None)
    _put(out, "dns_search", list(settings.dns_search) or None)
    if settings.logging is not None:
        logging: Data = {}
        _put(logging, "driver", settings.logging.driver)
        _put(logging, "options", dict(settings.logging.options) or None)
        out["logging"] = logging
    _put(out, "stop_signal", settings.stop_signal)
    if settings.stop_grace_period is not None:
        out["stop_grace_period"] = go_duration(settings.stop_grace_period)
    _put(out, "post_start", [_hook(h) for h in settings.post_start] or None)
    _put(out, "pre_stop", [_hook(h) for h in settings.pre_stop] or None)


def _hook(hook: Hook) -> Data:
    return _drop_empty(
        {
            "command": list(hook.command),
            "user": hook.user,
            "privileged": hook.privileged,
            "working_dir": hook.working_dir,
            "environment": dict(hook.environment),
        }
    )


def _file_mount(mount: FileMount) -> Data:
    return _drop_empty(
        {
            "source": mount.source,
            "target": mount.target,
            "uid": mount.uid,
            "gid": mount.gid,
            "mode": mount.mode,
        }
    )


def _named(entry: NetworkSpec | VolumeSpec, project: str) -> Data:
    """`name` as Compose shows it (the declared one, else `<project>_<key>`), then
    `external` when the engine already has it, else the driver that makes it."""
    name = entry.external_name or entry.declared_name
    if name is None:
        name = entry.name if entry.external else f"{project}_{entry.name}"
    return (
        {"name": name, "external": True}
        if entry.external
        else {"name": name, "driver": entry.driver}
    )


def _network(network: NetworkSpec, project: str) -> Data:
    out = _named(network, project)
    if network.external:
        return out
    if network.subnets:
        configs: list[Data] = [{"subnet": subnet} for subnet in network.subnets]
        if network.gateway:
            configs[0]["gateway"] = network.gateway
        out["ipam"] = {"config": configs}
    out.update(
        _drop_empty(
            {
                "internal": network.internal,
                "attachable": network.attachable,
                "enable_ipv6": network.enable_ipv6,
                "labels": dict(network.labels),
            }
        )
    )
    return out


def _volume(volume: VolumeSpec, project: str) -> Data:
    out = _named(volume, project)
    if volume.labels and not volume.external:
        out["labels"] = dict(volume.labels)
    return out


def _file_spec(spec: FileSpec, project: str) -> Data:
    name = spec.declared_name or (spec.name if spec.external else f"{project}_{spec.name}")
    return _drop_empty(
        {
            "name": name,
            "file": spec.file,
            "environment": spec.environment,
            "content": spec.content,
            "external": spec.external,
        }
    )
