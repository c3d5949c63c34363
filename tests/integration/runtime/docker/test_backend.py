"""DockerBackend on the real engine, with clusters built in code from squall/busybox.

Every test uses a project name of its own (`sqt<random>`) and downs it afterwards; the
only traffic is between the test's own containers.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
import pytest

from squall.errors import (
    BackendError,
    EngineUnavailable,
    ImageMissing,
    Location,
    ServiceNotFound,
)
from squall.runtime.base import Action, ServiceState
from squall.runtime.docker.backend import DockerBackend
from squall.spec.model import (
    BuildSpec,
    ClusterSpec,
    Dependency,
    Healthcheck,
    Link,
    NetworkSpec,
    PortMapping,
    ServiceNetwork,
    ServiceSpec,
    VolumeMount,
    VolumeSpec,
)

BUSYBOX = "squall/busybox:latest"
FILE = Path("/nonexistent/compose.yaml")
LOC = Location(FILE)
SLEEP = ("sleep", "3600")
ECHO_SERVER = ("nc", "-ll", "-p", "10000", "-e", "cat")
READY_LATER = ("sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 3600")
READY_CHECK = Healthcheck(
    test=("sh", "-c", "test -f /tmp/ready"), interval=0.2, timeout=2, retries=20
)


def service(name: str, **fields: Any) -> ServiceSpec:
    fields.setdefault("image", BUSYBOX)
    fields.setdefault("command", SLEEP)
    return ServiceSpec(name=name, location=LOC, **fields)


def cluster(project: str, *services: ServiceSpec, **fields: Any) -> ClusterSpec:
    return ClusterSpec(
        name=project,
        source=FILE,
        format="compose",
        services=tuple(sorted(services, key=lambda s: s.name)),
        **fields,
    )


def new_project() -> str:
    return f"sqt{secrets.token_hex(4)}"


def label(project: str) -> dict[str, str]:
    return {"label": f"io.squall.project={project}"}


def run_in(backend: DockerBackend, project: str, name: str, *argv: str) -> tuple[int, str]:
    """Run argv in a service's container; (exit code, stdout+stderr)."""
    api = backend.engine.api
    state = next(s for s in backend.status(project) if s.service == name)
    exec_id = api.exec_create(state.id, list(argv))["Id"]
    output = api.exec_start(exec_id).decode(errors="replace")
    return int(api.exec_inspect(exec_id)["ExitCode"]), output


def reaches(backend: DockerBackend, project: str, source: str, target: str) -> bool:
    code, _ = run_in(backend, project, source, "ping", "-c1", "-W1", target)
    return code == 0


def states(backend: DockerBackend, project: str) -> dict[str, ServiceState]:
    return {s.service: s for s in backend.status(project)}


def assert_nothing_left(client: docker.DockerClient, project: str) -> None:
    assert client.containers.list(all=True, filters=label(project)) == []
    assert client.networks.list(filters=label(project)) == []
    assert client.volumes.list(filters=label(project)) == []
    assert [n.name for n in client.networks.list() if n.name.startswith(project)] == []
    assert [c.name for c in client.containers.list(all=True) if c.name.startswith(project)] == []


@pytest.fixture(scope="module")
def backend(local_images: tuple[str, ...]) -> Iterator[DockerBackend]:
    value = DockerBackend()
    yield value
    value.close()


@pytest.fixture
def project(backend: DockerBackend) -> Iterator[str]:
    name = new_project()
    yield name
    backend.down(name, volumes=True)


# -- one shared cluster for the tests that only read it ------------------------------------


def topology(project: str, subnet: str = "10.231.40.0/24") -> ClusterSpec:
    """`multi` on front and back, `fronty` on front, `backy` on back (links multi).

    `gated` waits for `fronty` to be healthy (fronty is ready a second after start).
    """
    return cluster(
        project,
        service(
            "multi",
            command=ECHO_SERVER,
            expose=(10000,),
            environment={"ROLE": "hub"},
            networks=(ServiceNetwork("front"), ServiceNetwork("back", aliases=("alpha",))),
        ),
        service(
            "fronty",
            command=READY_LATER,
            healthcheck=READY_CHECK,
            networks=(ServiceNetwork("front"),),
        ),
        service(
            "backy",
            networks=(ServiceNetwork("back"),),
            links=(Link("multi", "server"),),
        ),
        service(
            "gated",
            networks=(ServiceNetwork("front"),),
            depends_on=(Dependency("fronty", "service_healthy"),),
            hostname="gatehouse",
        ),
        networks=(NetworkSpec("back", subnets=(subnet,)), NetworkSpec("front")),
    )


@pytest.fixture(scope="module")
def shared(backend: DockerBackend) -> Iterator[tuple[str, ClusterSpec]]:
    name = new_project()
    spec = topology(name)
    try:
        backend.up(spec)
        yield name, spec
    finally:
        backend.down(name, volumes=True)


def test_up_creates_labelled_containers_and_networks(
    shared: tuple[str, ClusterSpec], docker_client: docker.DockerClient
) -> None:
    project, _ = shared
    containers = docker_client.containers.list(all=True, filters=label(project))
    assert sorted(c.name for c in containers) == [
        f"{project}-{s}-1" for s in ("backy", "fronty", "gated", "multi")
    ]
    for container in containers:
        labels = container.labels
        assert container.status == "running"
        assert labels["com.docker.compose.project"] == project
        assert labels["com.docker.compose.service"] == labels["io.squall.service"]
        assert labels["com.docker.compose.container-number"] == "1"
        assert labels["com.docker.compose.oneoff"] == "False"
        assert len(labels["io.squall.config-hash"]) == 64
    networks = docker_client.networks.list(filters=label(project))
    assert sorted(n.name for n in networks) == [f"{project}_back", f"{project}_front"]
    assert {n.attrs["Labels"]["io.squall.network"] for n in networks} == {"back", "front"}
    back = next(n for n in networks if n.name.endswith("_back"))
    assert back.attrs["IPAM"]["Config"][0]["Subnet"] == "10.231.40.0/24"


def test_up_twice_changes_nothing(
    backend: DockerBackend, shared: tuple[str, ClusterSpec], docker_client: docker.DockerClient
) -> None:
    project, spec = shared
    before = {s.service: s.id for s in backend.status(project)}
    networks = sorted(n.id for n in docker_client.networks.list(filters=label(project)))
    started = time.monotonic()
    backend.up(spec)
    assert time.monotonic() - started < 5
    assert {s.service: s.id for s in backend.status(project)} == before
    assert sorted(n.id for n in docker_client.networks.list(filters=label(project))) == networks


def test_status_gives_addresses_per_network_and_netns(
    backend: DockerBackend, shared: tuple[str, ClusterSpec]
) -> None:
    project, _ = shared
    found = states(backend, project)
    assert list(found) == ["backy", "fronty", "gated", "multi"]
    multi = found["multi"]
    assert [a.network for a in multi.addresses] == ["back", "front"]
    back = multi.addresses[0]
    assert back.ip is not None and back.ip.startswith("10.231.40.") and back.prefix_len == 24
    assert "alpha" in back.aliases and "multi" in back.aliases
    assert multi.id is not None and len(multi.id) == 12
    assert multi.state == "running" and multi.image == BUSYBOX
    assert multi.netns == f"/proc/{multi.pid}/ns/net" and Path(multi.netns).exists()
    assert found["fronty"].health == "healthy" and found["multi"].health is None
    assert [a.network for a in found["fronty"].addresses] == ["front"]
    assert "gatehouse" in found["gated"].addresses[0].aliases

    nets = {n.name: n for n in backend.networks(project)}
    assert nets["back"].services == ("backy", "multi")
    assert nets["front"].services == ("fronty", "gated", "multi")
    assert nets["back"].subnets == ("10.231.40.0/24",)
    assert nets["front"].backend_name == f"{project}_front"


def test_multi_homed_service_reaches_both_networks_others_only_theirs(
    backend: DockerBackend, shared: tuple[str, ClusterSpec]
) -> None:
    project, _ = shared
    found = states(backend, project)
    backy_ip = found["backy"].addresses[0].ip
    fronty_ip = found["fronty"].addresses[0].ip
    assert backy_ip and fronty_ip
    assert reaches(backend, project, "multi", "fronty")
    assert reaches(backend, project, "multi", "backy")
    assert reaches(backend, project, "fronty", "multi")
    assert reaches(backend, project, "backy", "multi")
    assert not reaches(backend, project, "fronty", "backy"), "no shared network: no name"
    assert not reaches(backend, project, "fronty", backy_ip), "no route between networks"
    assert not reaches(backend, project, "backy", fronty_ip)


def test_aliases_resolve_on_their_network(
    backend: DockerBackend, shared: tuple[str, ClusterSpec]
) -> None:
    project, _ = shared
    multi_back = states(backend, project)["multi"].addresses[0].ip
    code, output = run_in(backend, project, "backy", "ping", "-c1", "-W1", "alpha")
    assert code == 0 and f"({multi_back})" in output
    assert not reaches(backend, project, "fronty", "alpha"), "alpha is an alias on back only"
    assert reaches(backend, project, "fronty", "gatehouse"), "a hostname is an alias too"


def test_links_give_an_alias_and_dockers_link_variables(
    backend: DockerBackend, shared: tuple[str, ClusterSpec]
) -> None:
    project, _ = shared
    multi_back = states(backend, project)["multi"].addresses[0].ip
    code, env = run_in(backend, project, "backy", "env")
    assert code == 0
    variables = dict(line.split("=", 1) for line in env.splitlines() if "=" in line)
    assert variables["SERVER_PORT_10000_TCP_ADDR"] == multi_back
    assert variables["SERVER_PORT_10000_TCP_PORT"] == "10000"
    assert variables["SERVER_PORT_10000_TCP_PROTO"] == "tcp"
    assert variables["SERVER_PORT"] == f"tcp://{multi_back}:10000"
    assert variables["SERVER_NAME"] == f"/{project}-backy-1/server"
    assert variables["SERVER_ENV_ROLE"] == "hub"
    # The seed's Blockade client: traffic to $SERVER_PORT_10000_TCP_ADDR, and to the alias.
    code, echoed = run_in(
        backend,
        project,
        "backy",
        "sh",
        "-c",
        'echo via-env | timeout 3 nc "$SERVER_PORT_10000_TCP_ADDR" 10000;'
        "echo via-alias | timeout 3 nc server 10000",
    )
    assert echoed.split() == ["via-env", "via-alias"], echoed


def test_service_healthy_dependency_waits(
    backend: DockerBackend, shared: tuple[str, ClusterSpec]
) -> None:
    project, _ = shared
    api = backend.engine.api
    found = states(backend, project)
    fronty = api.inspect_container(found["fronty"].id)
    gated = api.inspect_container(found["gated"].id)
    # fronty creates /tmp/ready one second after it starts; its probe then says healthy.
    assert _time(gated["State"]["StartedAt"]) - _time(fronty["State"]["StartedAt"]) >= 1.0


def test_exec_and_logs(
    backend: DockerBackend, shared: tuple[str, ClusterSpec], capfd: pytest.CaptureFixture[str]
) -> None:
    project, _ = shared
    assert backend.exec(project, "multi", ["sh", "-c", "echo out; echo err >&2; exit 3"]) == 3
    captured = capfd.readouterr()
    assert captured.out == "out\n" and captured.err == "err\n"
    run_in(backend, project, "multi", "sh", "-c", "echo from-exec > /proc/1/fd/1")
    logs = b"".join(backend.logs(project, "multi", tail=5))
    assert b"from-exec" in logs


def test_unknown_service_names_the_known_ones(
    backend: DockerBackend, shared: tuple[str, ClusterSpec]
) -> None:
    project, _ = shared
    with pytest.raises(ServiceNotFound, match="known: backy, fronty, gated, multi"):
        backend.act(project, ["multi", "nope"], Action.STOP)
    assert states(backend, project)["multi"].state == "running", "nothing done on error"


# -- tests with a cluster of their own -----------------------------------------------------


def test_actions_stop_start_kill_pause(backend: DockerBackend, project: str) -> None:
    backend.up(cluster(project, service("one", command=("sleep", "3600"), init=True)))
    backend.act(project, ["one"], Action.PAUSE)
    assert states(backend, project)["one"].state == "paused"
    backend.act(project, ["one"], Action.UNPAUSE)
    assert states(backend, project)["one"].state == "running"
    backend.act(project, ["one"], Action.KILL, signal="SIGTERM")
    _wait_state(backend, project, "one", "exited")
    assert states(backend, project)["one"].netns is None
    backend.act(project, ["one"], Action.START)
    assert states(backend, project)["one"].state == "running"
    backend.act(project, ["one"], Action.STOP)
    assert states(backend, project)["one"].state == "exited"
    backend.act(project, ["one"], Action.RESTART)
    assert states(backend, project)["one"].state == "running"


def test_changed_service_is_recreated_others_kept(backend: DockerBackend, project: str) -> None:
    spec = cluster(project, service("keep"), service("change"))
    backend.up(spec)
    before = {s.service: s.id for s in backend.status(project)}
    changed = cluster(project, service("keep"), service("change", environment={"V": "2"}))
    backend.up(changed)
    after = {s.service: s.id for s in backend.status(project)}
    assert after["keep"] == before["keep"]
    assert after["change"] != before["change"]
    backend.up(changed, force=True)
    forced = {s.service: s.id for s in backend.status(project)}
    assert forced["keep"] != after["keep"] and forced["change"] != after["change"]
    assert len(backend.status(project)) == 2


def test_up_starts_a_stopped_container_again(backend: DockerBackend, project: str) -> None:
    spec = cluster(project, service("one", init=True))
    backend.up(spec)
    ident = states(backend, project)["one"].id
    backend.act(project, ["one"], Action.STOP)
    backend.up(spec)
    again = states(backend, project)["one"]
    assert again.id == ident and again.state == "running"


def test_down_removes_everything(
    backend: DockerBackend, project: str, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    spec = cluster(
        project,
        service(
            "db",
            volumes=(
                VolumeMount("/data", source="data"),
                VolumeMount("/anon"),
                VolumeMount("/host", source=str(tmp_path), type="bind", read_only=True),
                VolumeMount("/scratch", type="tmpfs"),
            ),
            ports=(),
        ),
        volumes=(VolumeSpec("data"),),
    )
    backend.up(spec)
    code, _ = run_in(backend, project, "db", "sh", "-c", "echo hi > /data/f && ! touch /host/x")
    assert code == 0
    assert [v.name for v in docker_client.volumes.list(filters=label(project))] == [
        f"{project}_data"
    ]
    backend.create_network(project, "extra")
    backend.down(project)
    assert docker_client.containers.list(all=True, filters=label(project)) == []
    assert docker_client.networks.list(filters=label(project)) == []
    assert len(docker_client.volumes.list(filters=label(project))) == 1, "kept without -v"
    backend.down(project, volumes=True)
    assert_nothing_left(docker_client, project)
    backend.down(project, volumes=True)  # nothing to do is fine


class _Interrupt:
    """A progress display whose user presses Ctrl-C when `when` is reported."""

    def __init__(self, when: Callable[[str, str], bool]) -> None:
        self.when = when

    def step(self, subject: str, message: str, *, done: bool = False) -> None:
        if self.when(subject, message):
            raise KeyboardInterrupt


@pytest.mark.parametrize("moment", ["creating", "joining network", "starting"])
def test_ctrl_c_mid_up_then_down_leaves_nothing(
    backend: DockerBackend, project: str, docker_client: docker.DockerClient, moment: str
) -> None:
    spec = topology(project, subnet="10.231.42.0/24")
    with pytest.raises(KeyboardInterrupt):
        backend.up(spec, progress=_Interrupt(lambda s, m: s == "multi" and m.startswith(moment)))
    assert docker_client.networks.list(filters=label(project)), "something was made"
    # `up` after an interruption completes the cluster, with every network attached.
    backend.up(spec)
    assert [a.network for a in states(backend, project)["multi"].addresses] == ["back", "front"]
    with pytest.raises(KeyboardInterrupt):
        backend.up(spec, force=True, progress=_Interrupt(lambda s, m: m.startswith("creating")))
    backend.down(project)
    assert_nothing_left(docker_client, project)


def test_missing_image_says_how_to_get_it(
    backend: DockerBackend, project: str, docker_client: docker.DockerClient
) -> None:
    started = time.monotonic()
    spec = cluster(project, service("gone", image="squall/no-such-image:latest"))
    with pytest.raises(ImageMissing, match="squall images build") as caught:
        backend.up(spec)
    assert caught.value.image == "squall/no-such-image:latest" and caught.value.service == "gone"
    assert time.monotonic() - started < 30, "one pull attempt, no retries"
    built = cluster(
        project, service("app", image=None, build=BuildSpec(context=Path("/nonexistent")))
    )
    with pytest.raises(BackendError, match="build context /nonexistent is not a directory"):
        backend.up(built)
    assert_nothing_left(docker_client, project)


def test_dependencies_that_fail(backend: DockerBackend, project: str) -> None:
    sick = Healthcheck(test=("false",), interval=0.2, timeout=1, retries=1)
    spec = cluster(
        project,
        service("sick", healthcheck=sick),
        service("waiter", depends_on=(Dependency("sick", "service_healthy"),)),
    )
    with pytest.raises(BackendError, match="'sick' is unhealthy"):
        backend.up(spec)
    assert "waiter" not in states(backend, project)
    spec = cluster(
        project,
        service("job", command=("sh", "-c", "exit 4")),
        service("after", depends_on=(Dependency("job", "service_completed_successfully"),)),
    )
    with pytest.raises(BackendError, match=r"'job' did not complete successfully \(exit code 4"):
        backend.up(spec)
    spec = cluster(
        project,
        service("nocheck"),
        service("after", depends_on=(Dependency("nocheck", "service_healthy"),)),
    )
    with pytest.raises(BackendError, match="'nocheck' has no healthcheck"):
        backend.up(spec)


def test_completed_dependency_and_start_delay(backend: DockerBackend, project: str) -> None:
    spec = cluster(
        project,
        service("init", command=("sh", "-c", "sleep 0.3")),
        service(
            "app",
            depends_on=(Dependency("init", "service_completed_successfully"),),
            start_delay=0.5,
        ),
    )
    backend.up(spec)
    found = states(backend, project)
    assert found["init"].state == "exited" and found["app"].state == "running"
    api = backend.engine.api
    init = api.inspect_container(found["init"].id)["State"]
    app = api.inspect_container(found["app"].id)["State"]
    assert _time(app["StartedAt"]) - _time(init["FinishedAt"]) >= 0.5


def test_external_network_must_exist(
    backend: DockerBackend, project: str, docker_client: docker.DockerClient
) -> None:
    outside = f"{project}-outside"
    spec = cluster(
        project,
        service("one", networks=(ServiceNetwork("ext"),)),
        networks=(NetworkSpec("ext", external=True, external_name=outside),),
    )
    with pytest.raises(BackendError, match=f"network '{outside}' is declared external"):
        backend.up(spec)
    network = docker_client.networks.create(outside)
    try:
        backend.up(spec)
        assert states(backend, project)["one"].addresses[0].network == "ext"
        assert [n.name for n in backend.networks(project)] == ["ext"]
        assert backend.networks(project)[0].external
        backend.down(project)
        network.reload()
        assert network.name == outside, "an external network outlives down"
    finally:
        network.remove()


def test_net_create_connect_disconnect_remove(backend: DockerBackend, project: str) -> None:
    backend.up(cluster(project, service("a"), service("b")))
    created = backend.create_network(project, "side", subnet="10.231.41.0/24", internal=True)
    assert created.name == "side" and created.backend_name == f"{project}_side"
    assert created.subnets == ("10.231.41.0/24",) and created.internal
    with pytest.raises(BackendError, match="exists already"):
        backend.create_network(project, "side")
    backend.connect(project, "side", "a", aliases=["store"])
    backend.connect(project, "side", "b")
    side = {a.network: a for a in states(backend, project)["b"].addresses}["side"]
    assert side.ip is not None and side.ip.startswith("10.231.41.")
    code, output = run_in(backend, project, "b", "ping", "-c1", "-W1", "store")
    assert code == 0, output
    with pytest.raises(BackendError, match="in use by"):
        backend.remove_network(project, "side")
    backend.disconnect(project, "side", "a")
    assert not reaches(backend, project, "b", "store")
    backend.disconnect(project, "side", "b")
    backend.remove_network(project, "side")
    assert "side" not in {n.name for n in backend.networks(project)}
    with pytest.raises(BackendError, match="has no network 'side'"):
        backend.remove_network(project, "side")


def _time(stamp: str) -> float:
    """Engine timestamps have nanoseconds; Python's parser wants at most microseconds."""
    head, _, rest = stamp.rstrip("Z").partition(".")
    fraction = (rest + "000000")[:6]
    return datetime.fromisoformat(f"{head}.{fraction}+00:00").timestamp()


def _wait_state(backend: DockerBackend, project: str, name: str, state: str) -> None:
    deadline = time.monotonic() + 10
    while states(backend, project)[name].state != state:
        assert time.monotonic() < deadline, f"{name} never became {state}"
        time.sleep(0.1)


def test_published_port_reaches_the_service(backend: DockerBackend, project: str) -> None:
    spec = cluster(
        project,
        service("echo", command=ECHO_SERVER, ports=(PortMapping(10000, host_ip="127.0.0.1"),)),
    )
    backend.up(spec)
    (published,) = states(backend, project)["echo"].ports
    host, _, rest = published.partition(":")
    port, _, target = rest.partition("->")
    assert host == "127.0.0.1" and target == "10000/tcp"
    deadline = time.monotonic() + 5
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=2) as conn:
                conn.sendall(b"ping\n")
                assert conn.recv(16) == b"ping\n"
                break
        except OSError:
            assert time.monotonic() < deadline, "the published port never answered"
            time.sleep(0.1)


def test_unreachable_engine_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    backend = DockerBackend()  # does no work until asked
    with pytest.raises(EngineUnavailable, match="cannot reach the Docker Engine at unix:///nonex"):
        backend.status("anything")


def test_every_service_field_reaches_the_engine(backend: DockerBackend, project: str) -> None:
    spec = cluster(
        project,
        service(
            "full",
            entrypoint=("sh", "-c"),
            command=("echo $GREETING > /tmp/out; exec sleep 3600",),
            environment={"GREETING": "hello"},
            hostname="fullhost",
            working_dir="/tmp",
            user="0:0",
            tty=True,
            stdin_open=True,
            init=True,
            cap_add=("NET_ADMIN",),
            cap_drop=("MKNOD",),
            restart="on-failure:3",
            labels={"team": "qa"},
            extra_hosts=("gateway.test=10.9.8.7",),
            expose=(7000,),
            healthcheck=Healthcheck(test=("true",), interval=1.5, timeout=2, retries=4),
        ),
        service("sidecar", network_mode="service:full", command=ECHO_SERVER),
    )
    backend.up(spec)
    found = states(backend, project)
    info = backend.engine.api.inspect_container(found["full"].id)
    config, host = info["Config"], info["HostConfig"]
    assert config["Entrypoint"] == ["sh", "-c"] and config["Hostname"] == "fullhost"
    assert "GREETING=hello" in config["Env"] and config["WorkingDir"] == "/tmp"
    assert config["User"] == "0:0" and config["Tty"] and config["OpenStdin"]
    assert config["Labels"]["team"] == "qa" and "7000/tcp" in config["ExposedPorts"]
    assert config["Healthcheck"] == {
        "Test": ["CMD", "true"],
        "Interval": 1_500_000_000,
        "Timeout": 2_000_000_000,
        "Retries": 4,
    }
    assert host["Init"] and host["CapAdd"] == ["NET_ADMIN"] and host["CapDrop"] == ["MKNOD"]
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host["ExtraHosts"] == ["gateway.test:10.9.8.7"]
    code, output = run_in(backend, project, "full", "cat", "/tmp/out")
    assert (code, output.strip()) == (0, "hello")
    # network_mode service:full shares full's network namespace.
    sidecar = backend.engine.api.inspect_container(found["sidecar"].id)
    assert sidecar["HostConfig"]["NetworkMode"] == f"container:{info['Id']}"
    code, echoed = run_in(
        backend, project, "full", "sh", "-c", "echo shared | timeout 3 nc 127.0.0.1 10000"
    )
    assert echoed.strip() == "shared", echoed


def test_build_with_args_and_target(
    backend: DockerBackend, project: str, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    (tmp_path / "Containerfile").write_text(
        f"FROM {BUSYBOX} AS base\n"
        "ARG WORD=none\n"
        'RUN echo "$WORD" > /word\n'
        "FROM base AS final\n"
        "RUN echo final > /stage\n"
    )
    build = BuildSpec(
        context=tmp_path, dockerfile="Containerfile", args={"WORD": "built"}, target="base"
    )
    spec = cluster(project, service("app", image=None, build=build))
    lines: list[str] = []

    class Collect:
        def step(self, subject: str, message: str, *, done: bool = False) -> None:
            lines.append(f"{subject}: {message}")

    try:
        backend.up(spec, progress=Collect())
        assert any(line.startswith("app: Step 1/") for line in lines), lines
        assert run_in(backend, project, "app", "cat", "/word") == (0, "built\n")
        assert run_in(backend, project, "app", "test", "-e", "/stage")[0] == 1, "target: base"
        ident = states(backend, project)["app"].id
        backend.up(spec, build=True)  # same inputs, same image: the container stays
        assert states(backend, project)["app"].id == ident
    finally:
        backend.down(project)
        docker_client.images.remove(f"{project}-app", force=True)
