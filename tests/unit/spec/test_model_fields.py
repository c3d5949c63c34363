"""Scale, resources, container settings, secrets and configs: parsed, checked, kept."""

from __future__ import annotations

import pytest

from squall.spec.model import FileMount, FileSpec, Hook, Logging, Resources, Ulimit

from .conftest import Project
from .fixtures import FIXTURES, load, service


def test_resources_and_settings_are_kept() -> None:
    spec = load("resources", {"API_KEY": "k"})
    api, worker = service(spec, "api"), service(spec, "worker")
    assert api.scale == 3 and worker.scale == 2
    assert api.resources == Resources(
        cpus=0.5,
        cpu_shares=512,
        memory=512 << 20,
        memory_reservation=128 << 20,
        cpus_reservation=0.25,
        pids=100,
        shm_size=64 << 20,
        ulimits=(Ulimit("nproc", 65535, 65535), Ulimit("nofile", 20000, 40000)),
    )
    assert worker.resources == Resources(cpus=1.5, memory=1 << 30, pids=50)
    settings = api.settings
    assert settings.read_only and settings.tmpfs == ("/run", "/tmp")
    assert settings.sysctls == {"net.core.somaxconn": "1024"}
    assert settings.logging == Logging("json-file", {"max-size": "10m"})
    assert settings.dns_search == ("example.internal",)
    assert (settings.stop_signal, settings.stop_grace_period) == ("SIGINT", 90.0)
    assert settings.post_start == (Hook(("sh", "-c", "echo started"), user="root"),)
    assert settings.pre_stop == (Hook(("echo", "stopping")),)
    assert api.secrets == (
        FileMount("db_password", "/run/secrets/db_password"),
        FileMount("api_key", "/etc/api/key", mode=0o440),
    )
    assert api.configs == (FileMount("nginx_conf", "/nginx_conf"),)
    folder = FIXTURES / "resources"
    assert spec.secrets[1] == FileSpec(
        "db_password", spec.secrets[1].location, file=str(folder / "db_password.txt")
    )
    assert spec.secrets[0].environment == "API_KEY"
    assert spec.configs[0].content == "server {}"
    assert spec.network("default") is not None
    assert spec.network("default").declared_name == "shop-net"  # type: ignore[union-attr]
    assert spec.volumes[0].declared_name == "shop-data"
    assert not any("ignored" in warning for warning in spec.warnings)


def test_an_unset_secret_variable_warns() -> None:
    spec = load("resources")
    assert any("variable API_KEY is not set; the secret is empty" in w for w in spec.warnings)


@pytest.mark.parametrize(
    ("lines", "line", "message"),
    [
        ("image: 123", 3, "expected an image reference (a string), got an integer"),
        ("image: 'Nginx:latest'", 3, "invalid image reference 'Nginx:latest'"),
        ("image: x\n    healthcheck: {retries: " + "9" * 400 + "}", 4, "out of range"),
        ("image: x\n    healthcheck: {interval: 10 seconds}", 4, "invalid duration"),
        ("image: x\n    healthcheck: {retries: -1}", 4, "-1 is out of range (0 to 2147483647)"),
        ("image: x\n    mem_limit: lots", 4, "invalid size 'lots'"),
        ("image: x\n    cpus: -2", 4, "cpus must not be negative"),
        ("image: x\n    deploy: {replicas: 5000}", 4, "5000 is out of range (0 to 1000)"),
        ("image: x\n    scale: 2\n    deploy: {replicas: 3}", 5, "differ"),
        ("image: x\n    ulimits: {nofile: {soft: 9, hard: 3}}", 4, "above the hard limit"),
        ("image: x\n    dns: [not-an-ip]", 4, "is not an IP address"),
        ("image: x\n    stop_signal: 'kill -9'", 4, "invalid signal"),
        ("image: x\n    stop_grace_period: 99999999h", 4, "longer than ten years"),
        ("image: x\n    secrets: [nope]", 4, "secret 'nope' is not declared"),
        ("image: x\n    tmpfs: relative", 4, "must be absolute"),
        ("image: x\n    profiles: ['-bad']", 4, "invalid profile name"),
        ("image: x\n    scale: 2\n    container_name: one", 5, "cannot share"),
    ],
)
def test_values_compose_validates_are_checked_at_load(
    project: Project, lines: str, line: int, message: str
) -> None:
    error = project.error(f"services:\n  web:\n    {lines}\n")
    text = str(error)
    assert "\n" not in text
    assert text.startswith(project.at(line)), text
    assert message in text, text


def test_a_secret_needs_one_source(project: Project) -> None:
    error = project.error(
        "services:\n  web: {image: x}\nsecrets:\n  pw: {file: a, environment: B}\n"
    )
    assert str(error).startswith(project.at(4)) and "one of file, environment" in str(error)


def test_octal_mode_as_go_reads_it(project: Project) -> None:
    spec = project.load(
        "services:\n  web:\n    image: x\n    configs: [{source: c, mode: 0640}]\n"
        "configs:\n  c: {content: hi}\n"
    )
    assert spec.services[0].configs[0].mode == 0o640
