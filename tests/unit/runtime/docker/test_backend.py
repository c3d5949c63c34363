"""DockerBackend's logic on a fake engine: what it asks, in which order, what it makes
of the answers. The real engine is the integration tests' job."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from squall.errors import BackendError, EngineUnavailable, ImageMissing, Location, ServiceNotFound
from squall.runtime.base import Action, NetworkAddress
from squall.runtime.docker import naming
from squall.runtime.docker.backend import DockerBackend
from squall.runtime.docker.engine import DockerEngine
from squall.spec.model import (
    ClusterSpec,
    Dependency,
    Healthcheck,
    NetworkSpec,
    PortMapping,
    ServiceNetwork,
    ServiceSpec,
    VolumeMount,
    VolumeSpec,
)
from tests.unit.runtime.docker.conftest import Fake

HERE = Location(Path("compose.yaml"), 1, 1)
IMAGE = "squall/busybox:latest"


def _spec(*services: ServiceSpec, external: bool = False) -> ClusterSpec:
    return ClusterSpec(
        name="proj",
        source=Path("/srv/compose.yaml"),
        format="compose",
        services=services,
        networks=(
            NetworkSpec("back", subnets=("10.7.0.0/24",)),
            NetworkSpec("front", external=external),
        ),
        volumes=(VolumeSpec("data"),),
    )


DB = ServiceSpec(
    name="db",
    location=HERE,
    image=IMAGE,
    command=("sleep", "1000"),
    volumes=(VolumeMount("/data", "data"),),
    networks=(ServiceNetwork("back"),),
)
API = ServiceSpec(
    name="api",
    location=HERE,
    image=IMAGE,
    command=("httpd", "-f"),
    ports=(PortMapping(80, 8080, "127.0.0.1"),),
    networks=(ServiceNetwork("front"), ServiceNetwork("back")),
    depends_on=(Dependency("db"),),
)
CLUSTER = _spec(API, DB)


@dataclasses.dataclass
class Recorder:
    lines: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def step(self, subject: str, message: str, *, done: bool = False) -> None:
        self.lines.append((subject, message))


def _name(fake: Fake, ident: str) -> str:
    container = fake.engine.find_container(ident)
    assert container is not None
    return str(container["Name"]).lstrip("/")


def test_up_makes_volumes_networks_then_containers_in_dependency_order(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    fake.backend.up(CLUSTER)
    engine = fake.engine
    assert set(engine.volumes) == {"proj_data"}
    assert engine.volumes["proj_data"]["Labels"][naming.PROJECT_LABEL] == "proj"
    networks = {n["Name"]: n for n in engine.networks.values()}
    assert set(networks) == {"proj_back", "proj_front"}
    assert networks["proj_back"]["IPAM"]["Config"] == [{"Subnet": "10.7.0.0/24"}]
    assert networks["proj_front"]["Labels"][naming.NETWORK_LABEL] == "front"
    # db first (api depends on it); api joins its second network before it starts.
    writes = [c for c in engine.calls("POST") if not c.startswith("POST /volumes")]
    starts = [c.split("/")[2] for c in writes if c.endswith("/start")]
    assert [_name(fake, s) for s in starts] == ["proj-db-1", "proj-api-1"]
    api = fake.engine.find_container("proj-api-1")
    assert api is not None
    api_start = writes.index(f"POST /containers/{api['Id']}/start")
    connect = next(i for i, c in enumerate(writes) if c.endswith("/connect"))
    assert connect < api_start
    assert set(api["NetworkSettings"]["Networks"]) == {"proj_front", "proj_back"}
    assert api["Config"]["Labels"][naming.HASH_LABEL]


def test_a_second_up_leaves_matching_containers_alone(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    fake.backend.up(CLUSTER)
    before = len(fake.engine.requests)
    steps: list[tuple[str, str]] = []

    class Record:
        def step(self, subject: str, message: str, *, done: bool = False) -> None:
            steps.append((subject, message))

    fake.backend.up(CLUSTER, progress=Record())
    later = [f"{r.method} {r.path}" for r in fake.engine.requests[before:]]
    assert not [c for c in later if c.startswith(("POST", "DELETE"))]
    assert ("api", "up to date") in steps and ("db", "up to date") in steps


def test_a_changed_service_is_recreated_and_a_stopped_one_only_started(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    fake.backend.up(CLUSTER)
    db = fake.engine.find_container("proj-db-1")
    api = fake.engine.find_container("proj-api-1")
    assert db is not None and api is not None
    db["State"]["Status"] = "exited"
    changed = dataclasses.replace(API, environment={"MODE": "new"})
    before = len(fake.engine.requests)
    fake.backend.up(_spec(changed, DB))
    later = [f"{r.method} {r.path}" for r in fake.engine.requests[before:]]
    assert f"POST /containers/{db['Id']}/start" in later
    assert f"DELETE /containers/{db['Id']}" not in later
    assert f"DELETE /containers/{api['Id']}" in later
    assert later.count("POST /containers/create") == 1
    new_api = fake.engine.find_container("proj-api-1")
    assert new_api is not None and "MODE=new" in new_api["Config"]["Env"]


def test_force_recreates_everything(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    fake.backend.up(CLUSTER)
    before = len(fake.engine.requests)
    fake.backend.up(CLUSTER, force=True)
    later = [f"{r.method} {r.path}" for r in fake.engine.requests[before:]]
    assert later.count("POST /containers/create") == 2


def test_status_reads_state_addresses_and_ports(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    fake.backend.up(CLUSTER)
    api, db = fake.backend.status("proj")
    assert (api.service, api.container, api.state) == ("api", "proj-api-1", "running")
    # The fake engine's pids belong to no container of this kernel: reached by its agent.
    assert api.pid is not None and api.elsewhere and api.agent == fake.backend.engine.url
    assert api.netns == f"/proc/{api.pid}/ns/net"  # as that engine's kernel names it
    assert [a.network for a in api.addresses] == ["back", "front"]
    assert all(a.ip and a.prefix_len == 24 for a in api.addresses)
    assert api.addresses[0].aliases == ("api",)
    assert api.ports == ("127.0.0.1:8080->80/tcp",)
    assert db.addresses == (NetworkAddress("back", db.addresses[0].ip, 24, ("db",)),)
    networks = {n.name: n for n in fake.backend.networks("proj")}
    assert networks["back"].services == ("api", "db")
    assert networks["back"].subnets == ("10.7.0.0/24",)


def test_down_removes_everything_labelled_and_reports_what_it_could_not(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    fake.backend.up(CLUSTER)
    fake.engine.add_image("proj-built:latest", {naming.PROJECT_LABEL: "proj"})
    fake.engine.fail("DELETE", r"^/networks/", message="network has active endpoints")
    with pytest.raises(BackendError, match=r"down 'proj' left things behind: .*active endpoints"):
        fake.backend.down("proj", volumes=True, images=True)
    assert fake.engine.containers == {}
    assert fake.engine.volumes == {}
    assert set(fake.engine.images) == {IMAGE}  # only the project's image went
    assert len(fake.engine.networks) == 2
    fake.engine.failures.clear()
    fake.backend.down("proj")
    assert fake.engine.networks == {}


def test_healthy_dependency_is_waited_for(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    checked = dataclasses.replace(DB, healthcheck=Healthcheck(("true",), interval=0.1))
    waiting = dataclasses.replace(API, depends_on=(Dependency("db", "service_healthy"),))
    polls: list[int] = []

    def become_healthy(container: dict[str, object]) -> None:
        state = container["State"]
        assert isinstance(state, dict)
        if container["Name"] == "/proj-db-1" and state["Status"] == "running":
            polls.append(1)
            state["Health"] = {"Status": "healthy" if len(polls) > 2 else "starting", "Log": []}

    fake.engine.on_inspect = become_healthy
    fake.backend.up(_spec(waiting, checked))
    assert len(polls) >= 3
    assert fake.engine.find_container("proj-api-1") is not None


def test_unhealthy_dependency_fails_with_the_last_probe(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    checked = dataclasses.replace(DB, healthcheck=Healthcheck(("false",), interval=0.1))
    waiting = dataclasses.replace(API, depends_on=(Dependency("db", "service_healthy"),))

    def sicken(container: dict[str, object]) -> None:
        state = container["State"]
        assert isinstance(state, dict)
        if container["Name"] == "/proj-db-1" and state["Status"] == "running":
            log = [{"ExitCode": 1, "Output": "no\n"}]
            state["Health"] = {"Status": "unhealthy", "Log": log}

    fake.engine.on_inspect = sicken
    with pytest.raises(BackendError, match=r"'db' is unhealthy: last probe exit code 1: no"):
        fake.backend.up(_spec(waiting, checked))
    assert fake.engine.find_container("proj-api-1") is None


def test_engine_errors_become_squall_errors(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    fake.engine.fail("POST", r"^/containers/create$", message="invalid mount config")
    with pytest.raises(BackendError, match="invalid mount config") as caught:
        fake.backend.up(_spec(DB))
    assert caught.value.service == "db"
    with pytest.raises(ServiceNotFound, match="has no service 'nope'"):
        fake.backend.act("proj", ["nope"], Action.STOP)


def test_an_image_that_cannot_be_pulled_leaves_nothing_made(fake: Fake) -> None:
    with pytest.raises(ImageMissing, match=r"squall images build") as caught:
        fake.backend.up(CLUSTER)
    assert caught.value.image == IMAGE
    assert fake.engine.networks == {} and fake.engine.volumes == {}


def test_a_pull_streams_its_progress(fake: Fake) -> None:
    fake.engine.pulls["nginx:1.25"] = [
        {"status": "Pulling fs layer", "id": "abc"},
        {"status": "Done"},
    ]
    steps: list[str] = []

    class Record:
        def step(self, subject: str, message: str, *, done: bool = False) -> None:
            steps.append(message)

    fake.backend.up(_spec(dataclasses.replace(DB, image="nginx:1.25")), progress=Record())
    assert "abc: Pulling fs layer" in steps and "Done" in steps
    fake.engine.pulls["broken:1"] = [{"error": "manifest unknown"}]
    with pytest.raises(ImageMissing, match="manifest unknown"):
        fake.backend.up(_spec(dataclasses.replace(DB, name="other", image="broken:1")))


def test_missing_external_network_is_named(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    with pytest.raises(BackendError, match="network 'front' is declared external"):
        fake.backend.up(_spec(API, DB, external=True))


def test_no_engine_is_engine_unavailable(tmp_path: Path) -> None:
    backend = DockerBackend(DockerEngine(f"unix://{tmp_path}/absent.sock"))
    with pytest.raises(EngineUnavailable, match="cannot reach the Docker Engine"):
        backend.status("proj")


def test_actions_map_to_engine_calls(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    fake.backend.up(CLUSTER)
    db = fake.engine.find_container("proj-db-1")
    assert db is not None
    before = len(fake.engine.requests)
    for action in (Action.PAUSE, Action.UNPAUSE, Action.STOP, Action.START, Action.KILL):
        fake.backend.act("proj", ["db"], action, signal="SIGTERM")
    later = [r for r in fake.engine.requests[before:] if r.method == "POST"]
    assert [r.path.rsplit("/", 1)[1] for r in later] == [
        "pause",
        "unpause",
        "stop",
        "start",
        "kill",
    ]
    assert later[-1].query["signal"] == ["SIGTERM"]


def test_replicas_are_numbered_containers_that_share_the_service_alias(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    api = dataclasses.replace(API, scale=3, depends_on=(), ports=())
    fake.backend.up(_spec(api, DB))
    names = sorted(_name(fake, c["Id"]) for c in fake.engine.containers.values())
    assert names == ["proj-api-1", "proj-api-2", "proj-api-3", "proj-db-1"]
    for container in fake.engine.containers.values():
        labels = container["Config"]["Labels"]
        if labels[naming.SERVICE_LABEL] == "api":
            number = labels[naming.COMPOSE_NUMBER]
            assert container["Name"] == f"/proj-api-{number}"
            for endpoint in container["NetworkSettings"]["Networks"].values():
                assert "api" in endpoint["Aliases"]
    assert [(s.member, s.container) for s in fake.backend.status("proj")] == [
        ("api-1", "proj-api-1"),
        ("api-2", "proj-api-2"),
        ("api-3", "proj-api-3"),
        ("db", "proj-db-1"),
    ]
    fake.backend.act("proj", ["api-2"], Action.STOP)
    assert {s.member: s.state for s in fake.backend.status("proj")}["api-2"] == "exited"
    assert {s.state for s in fake.backend.status("proj") if s.member != "api-2"} == {"running"}
    fake.backend.act("proj", ["api"], Action.STOP)
    assert {s.state for s in fake.backend.status("proj") if s.service == "api"} == {"exited"}
    with pytest.raises(ServiceNotFound, match="no service 'api-4'"):
        fake.backend.act("proj", ["api-4"], Action.START)


def test_a_smaller_scale_removes_the_last_replicas_and_a_larger_one_adds(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    api = dataclasses.replace(API, scale=3, depends_on=(), ports=())
    fake.backend.up(_spec(api, DB))
    first = {c["Name"]: c["Id"] for c in fake.engine.containers.values()}
    fake.backend.up(_spec(dataclasses.replace(api, scale=1), DB))
    left = {c["Name"]: c["Id"] for c in fake.engine.containers.values()}
    assert left == {k: first[k] for k in ("/proj-api-1", "/proj-db-1")}
    # A service of one is known by its own name again.
    assert [s.member for s in fake.backend.status("proj")] == ["api", "db"]
    fake.backend.up(_spec(dataclasses.replace(api, scale=2), DB))
    again = {c["Name"]: c["Id"] for c in fake.engine.containers.values()}
    assert again["/proj-api-1"] == first["/proj-api-1"]  # unchanged, left alone
    assert set(again) == {"/proj-api-1", "/proj-api-2", "/proj-db-1"}
    fake.backend.up(_spec(dataclasses.replace(api, scale=0), DB))
    assert [s.member for s in fake.backend.status("proj")] == ["db"]


def test_up_some_services_leaves_the_others_as_they_are(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    healthy_db = dataclasses.replace(API, depends_on=(Dependency("db", "service_healthy"),))
    fake.backend.up(_spec(healthy_db, DB), services=["db"])
    assert sorted(_name(fake, c["Id"]) for c in fake.engine.containers.values()) == ["proj-db-1"]
    # --no-deps: db is running, so its health is waited for; a stopped one is not.
    fake.backend.act("proj", ["db"], Action.STOP)
    progress = Recorder()
    fake.backend.up(_spec(healthy_db, DB), services=["api"], progress=progress)
    states = {s.service: s.state for s in fake.backend.status("proj")}
    assert states == {"api": "running", "db": "exited"}
    assert ("api", "db is not running (--no-deps)") in progress.lines
    assert ("proj", "1 service(s) up") in progress.lines
