"""The container-request builder: a service as the Engine API's create body. No engine."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from squall.errors import BackendError, Location
from squall.runtime.docker import naming
from squall.runtime.docker.create import container_request
from squall.runtime.docker.files import InjectedFile, archive
from squall.runtime.docker.hooks import HOOKS_LABEL, STOP_GRACE_LABEL, stop_plan
from squall.runtime.links import LinkTarget
from squall.spec.model import (
    ClusterSpec,
    ContainerSettings,
    FileMount,
    FileSpec,
    Healthcheck,
    Hook,
    Link,
    Logging,
    NetworkSpec,
    PortMapping,
    Resources,
    ServiceNetwork,
    ServiceSpec,
    Ulimit,
    VolumeMount,
    VolumeSpec,
)

HERE = Location(Path("compose.yaml"), 1, 1)


def _spec(*services: ServiceSpec) -> ClusterSpec:
    return ClusterSpec(
        name="proj",
        source=Path("/srv/compose.yaml"),
        format="compose",
        services=services,
        networks=(NetworkSpec("front"), NetworkSpec("back")),
    )


API = ServiceSpec(
    name="api",
    location=HERE,
    image="squall/busybox",
    command=("httpd", "-f"),
    entrypoint=(),
    environment={"MODE": "test"},
    ports=(PortMapping(80, 8080, "127.0.0.1"), PortMapping(53, None, None, "udp")),
    expose=(9000,),
    volumes=(
        VolumeMount("/data", "data"),
        VolumeMount("/etc/app", "/srv/app", "bind", read_only=True),
        VolumeMount("/tmp/scratch", None, "tmpfs"),
        VolumeMount("/cache"),
    ),
    networks=(ServiceNetwork("front", ("www",)), ServiceNetwork("back", (), "10.5.0.9")),
    links=(Link("db", "database"),),
    healthcheck=Healthcheck(("wget", "-q", "localhost"), interval=2.0, timeout=1.5, retries=4),
    hostname="apihost",
    cap_add=("NET_ADMIN",),
    restart="on-failure:3",
    labels={"team": "a"},
    working_dir="/work",
    user="1000:1000",
    extra_hosts=("gw=10.0.0.1", "other:10.0.0.2"),
)
DB = ServiceSpec(
    name="db", location=HERE, image="squall/debian", networks=(ServiceNetwork("back"),)
)
NETWORKS = {"front": "proj_front", "back": "proj_back"}
LINK = LinkTarget("database", "proj-db-1", "10.5.0.2", ((5432, "tcp"),), {"PGUSER": "u"})


def test_the_whole_create_body_of_a_rich_service() -> None:
    request = container_request(
        _spec(API, DB),
        API,
        image="squall/busybox",
        network_names=NETWORKS,
        volume_names={"data": "proj_data"},
        links=[LINK],
    )
    assert request.name == "proj-api-1"
    config = request.config
    assert config["Image"] == "squall/busybox"
    assert config["Cmd"] == ["httpd", "-f"]
    assert config["Entrypoint"] == [""]  # `entrypoint: []` clears the image's
    assert config["Labels"] == {
        "team": "a",
        naming.PROJECT_LABEL: "proj",
        naming.SERVICE_LABEL: "api",
        naming.NETWORKS_LABEL: "back=proj_back,front=proj_front",
        naming.COMPOSE_PROJECT: "proj",
        naming.COMPOSE_SERVICE: "api",
        naming.COMPOSE_NUMBER: "1",
        naming.COMPOSE_ONEOFF: "False",
    }
    assert config["Env"] == [
        "DATABASE_NAME=/proj-api-1/database",
        "DATABASE_ENV_PGUSER=u",
        "DATABASE_PORT=tcp://10.5.0.2:5432",
        "DATABASE_PORT_5432_TCP=tcp://10.5.0.2:5432",
        "DATABASE_PORT_5432_TCP_ADDR=10.5.0.2",
        "DATABASE_PORT_5432_TCP_PORT=5432",
        "DATABASE_PORT_5432_TCP_PROTO=tcp",
        "MODE=test",
    ]
    assert (config["Hostname"], config["WorkingDir"], config["User"]) == (
        "apihost",
        "/work",
        "1000:1000",
    )
    assert config["Healthcheck"] == {
        "Test": ["CMD", "wget", "-q", "localhost"],
        "Interval": 2_000_000_000,
        "Timeout": 1_500_000_000,
        "Retries": 4,
        "StartPeriod": 0,
    }
    assert config["ExposedPorts"] == {"53/udp": {}, "80/tcp": {}, "9000/tcp": {}}
    assert config["Volumes"] == {"/cache": {}}
    assert config["HostConfig"] == {
        "CapAdd": ["NET_ADMIN"],
        "Privileged": False,
        "ExtraHosts": ["gw:10.0.0.1", "other:10.0.0.2"],
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
        "PortBindings": {
            "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
            "53/udp": [{"HostIp": "", "HostPort": ""}],
        },
        "Binds": ["proj_data:/data:rw", "/srv/app:/etc/app:ro"],
        "Tmpfs": {"/tmp/scratch": ""},
        "NetworkMode": "proj_front",
    }
    # One network at create time, the others joined before start; the link is an alias
    # only on the network both ends share.
    assert config["NetworkingConfig"] == {
        "EndpointsConfig": {"proj_front": {"Aliases": ["api", "www", "apihost"]}}
    }
    (back,) = request.connect
    assert back.endpoint() == {
        "Aliases": ["api", "apihost"],
        "Links": ["proj-db-1:database"],
        "IPAMConfig": {"IPv4Address": "10.5.0.9"},
    }


def test_a_minimal_service_gets_compose_defaults() -> None:
    request = container_request(
        _spec(DB), DB, image="squall/debian", network_names=NETWORKS, volume_names={}
    )
    assert "Cmd" not in request.config and "Healthcheck" not in request.config
    assert request.config["HostConfig"] == {"Privileged": False, "NetworkMode": "proj_back"}
    assert request.connect == ()


def test_network_mode_service_shares_the_other_container() -> None:
    side = ServiceSpec(name="side", location=HERE, image="x", network_mode="service:db")
    request = container_request(
        _spec(DB, side), side, image="x", network_names=NETWORKS, volume_names={}
    )
    assert request.config["HostConfig"]["NetworkMode"] == "container:proj-db-1"
    assert "NetworkingConfig" not in request.config
    lost = ServiceSpec(name="lost", location=HERE, image="x", network_mode="service:nope")
    with pytest.raises(BackendError, match="names no service"):
        container_request(_spec(lost), lost, image="x", network_names={}, volume_names={})


def test_disabled_healthcheck_and_bad_restart_policy() -> None:
    off = ServiceSpec(
        name="off", location=HERE, image="x", healthcheck=Healthcheck((), disabled=True)
    )
    request = container_request(
        _spec(off), off, image="x", network_names={"default": "proj_default"}, volume_names={}
    )
    assert request.config["Healthcheck"] == {"Test": ["NONE"]}
    bad = ServiceSpec(name="bad", location=HERE, image="x", restart="sometimes")
    with pytest.raises(BackendError, match="unknown restart policy 'sometimes'"):
        container_request(
            _spec(bad), bad, image="x", network_names={"default": "d"}, volume_names={}
        )


def test_the_hash_document_changes_with_the_image() -> None:
    request = container_request(
        _spec(DB), DB, image="squall/debian", network_names=NETWORKS, volume_names={}
    )
    one, two = (naming.config_hash(request.hash_document(i)) for i in ("sha256:1", "sha256:2"))
    assert one != two
    assert one == naming.config_hash(request.hash_document("sha256:1"))


def _settled(**fields: Any) -> ServiceSpec:
    return dataclasses.replace(DB, **fields)


def test_resources_and_engine_settings_reach_the_host_config_as_compose_sets_them() -> None:
    tuned = _settled(
        resources=Resources(
            cpus=1.5,
            cpu_shares=512,
            memory=256 << 20,
            memory_reservation=64 << 20,
            pids=100,
            shm_size=128 << 20,
            ulimits=(Ulimit("nofile", 1024, 2048), Ulimit("nproc", 64, 64)),
        ),
        settings=ContainerSettings(
            read_only=True,
            tmpfs=("/run", "/var/cache:size=10m,mode=1777"),
            sysctls={"net.core.somaxconn": "1024"},
            dns=("10.0.0.53",),
            dns_search=("example.internal",),
            logging=Logging("json-file", {"max-size": "1m"}),
            stop_signal="SIGINT",
            stop_grace_period=12.5,
        ),
    )
    request = container_request(
        _spec(tuned), tuned, image="squall/debian", network_names=NETWORKS, volume_names={}
    )
    host = request.config["HostConfig"]
    assert {k: v for k, v in host.items() if k not in ("Privileged", "NetworkMode")} == {
        "Memory": 268435456,
        "MemoryReservation": 67108864,
        "NanoCpus": 1_500_000_000,
        "CpuShares": 512,
        "PidsLimit": 100,
        "ShmSize": 134217728,
        "Ulimits": [
            {"Name": "nofile", "Soft": 1024, "Hard": 2048},
            {"Name": "nproc", "Soft": 64, "Hard": 64},
        ],
        "ReadonlyRootfs": True,
        "Tmpfs": {"/run": "", "/var/cache": "size=10m,mode=1777"},
        "Sysctls": {"net.core.somaxconn": "1024"},
        "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}},
        "Dns": ["10.0.0.53"],
        "DnsSearch": ["example.internal"],
    }
    assert (request.config["StopSignal"], request.config["StopTimeout"]) == ("SIGINT", 12)
    assert request.config["Labels"][STOP_GRACE_LABEL] == "12"
    assert request.notes == ()


def test_a_cpu_reservation_is_named_as_not_reserved() -> None:
    reserved = _settled(resources=Resources(cpus_reservation=0.5))
    request = container_request(
        _spec(reserved), reserved, image="x", network_names=NETWORKS, volume_names={}
    )
    (note,) = request.notes
    assert "reservations.cpus 0.5" in note and "none is reserved" in note
    assert "NanoCpus" not in request.config["HostConfig"]


def test_secrets_and_configs_are_bound_or_written_as_compose_does_without_swarm() -> None:
    user = _settled(
        secrets=(
            FileMount("db_password", "/run/secrets/db_password"),
            FileMount("token", "/run/secrets/api_token", uid="1000", gid="1000", mode=0o400),
            FileMount("swarm_only", "/run/secrets/swarm_only"),
        ),
        configs=(FileMount("app", "/etc/app.conf", mode=0o644), FileMount("motd", "/motd")),
    )
    spec = dataclasses.replace(
        _spec(user),
        secrets=(
            FileSpec("db_password", file="/srv/secrets/db.txt"),
            FileSpec("swarm_only", external=True),
            FileSpec("token", environment="TOKEN", value="s3cret"),
        ),
        configs=(
            FileSpec("app", content="port=80\n"),
            FileSpec("motd", file="/srv/motd"),
        ),
    )
    request = container_request(spec, user, image="x", network_names=NETWORKS, volume_names={})
    assert request.config["HostConfig"]["Binds"] == [
        "/srv/secrets/db.txt:/run/secrets/db_password:ro",
        "/srv/motd:/motd:ro",
    ]
    assert request.files == (
        InjectedFile("/run/secrets/api_token", b"s3cret", 0o400, 1000, 1000),
        InjectedFile("/etc/app.conf", b"port=80\n", 0o644),
    )
    (note,) = request.notes
    assert "'swarm_only' is external" in note and "/run/secrets/swarm_only is not mounted" in note
    with tarfile.open(fileobj=io.BytesIO(archive(request.files))) as tar:
        members = {m.name: (m.mode, m.uid, m.gid) for m in tar.getmembers()}
        token = tar.extractfile("run/secrets/api_token")
        assert token is not None and token.read() == b"s3cret"
    assert members == {"run/secrets/api_token": (0o400, 1000, 1000), "etc/app.conf": (0o644, 0, 0)}
    # The secret's text is in no label; a new text changes the config hash all the same.
    assert "s3cret" not in json.dumps(request.config)
    changed = dataclasses.replace(
        spec, secrets=(*spec.secrets[:2], FileSpec("token", environment="TOKEN", value="other"))
    )
    again = container_request(changed, user, image="x", network_names=NETWORKS, volume_names={})
    assert naming.config_hash(again.hash_document("i")) != naming.config_hash(
        request.hash_document("i")
    )


def test_a_bound_secret_names_the_owner_and_mode_it_cannot_give() -> None:
    user = _settled(secrets=(FileMount("pw", "/run/secrets/pw", mode=0o400),))
    spec = dataclasses.replace(_spec(user), secrets=(FileSpec("pw", file="/srv/pw"),))
    (note,) = container_request(
        spec, user, image="x", network_names=NETWORKS, volume_names={}
    ).notes
    assert note.startswith("secret 'pw': uid, gid and mode do not apply")
    bad = _settled(secrets=(FileMount("pw", "/run/secrets/pw", uid="app"),))
    spec = dataclasses.replace(_spec(bad), secrets=(FileSpec("pw", content="x"),))
    with pytest.raises(BackendError, match="secret uid 'app' must be a number"):
        container_request(spec, bad, image="x", network_names=NETWORKS, volume_names={})


def test_hooks_travel_in_a_label_and_come_back_as_they_were_written() -> None:
    hooked = _settled(
        settings=ContainerSettings(
            post_start=(Hook(("sh", "-c", "echo up"), user="root", environment={"A": "1"}),),
            pre_stop=(Hook(("touch", "/tmp/bye"), privileged=True, working_dir="/tmp"),),
        )
    )
    request = container_request(
        _spec(hooked), hooked, image="x", network_names=NETWORKS, volume_names={}
    )
    plan = stop_plan(request.config["Labels"])
    assert plan.post_start == hooked.settings.post_start
    assert plan.pre_stop == hooked.settings.pre_stop
    assert plan.graceful and plan.grace is None
    assert stop_plan({HOOKS_LABEL: "{not json"}) == stop_plan({})


def test_a_network_or_volume_name_given_in_the_file_is_its_engine_name() -> None:
    assert naming.network_name("proj", NetworkSpec("front", declared_name="shared-front")) == (
        "shared-front"
    )
    assert naming.network_name("proj", NetworkSpec("front")) == "proj_front"
    assert naming.network_name("proj", NetworkSpec("ext", external=True)) == "ext"
    assert naming.volume_name("proj", VolumeSpec("data", declared_name="pg-data")) == "pg-data"
    assert naming.volume_name("proj", VolumeSpec("data")) == "proj_data"
