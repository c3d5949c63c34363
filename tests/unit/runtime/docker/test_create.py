"""The container-request builder: a service as the Engine API's create body. No engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import BackendError, Location
from squall.runtime.docker import naming
from squall.runtime.docker.create import container_request
from squall.runtime.links import LinkTarget
from squall.spec.model import (
    ClusterSpec,
    Healthcheck,
    Link,
    NetworkSpec,
    PortMapping,
    ServiceNetwork,
    ServiceSpec,
    VolumeMount,
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
