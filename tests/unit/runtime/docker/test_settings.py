"""Secrets written before start, hooks around start and stop, grace periods: what the
Docker backend asks a (fake) engine, in which order."""

from __future__ import annotations

import dataclasses
import io
import tarfile
from pathlib import Path

import pytest

from squall.errors import BackendError, Location
from squall.runtime.base import Action
from squall.runtime.docker import naming
from squall.spec.model import (
    ClusterSpec,
    ContainerSettings,
    FileMount,
    FileSpec,
    Hook,
    ServiceSpec,
)
from tests.unit.runtime.docker.conftest import Fake

HERE = Location(Path("compose.yaml"), 1, 1)
IMAGE = "squall/busybox:latest"
HOOKED = ServiceSpec(
    name="app",
    location=HERE,
    image=IMAGE,
    command=("sleep", "1000"),
    secrets=(FileMount("token", "/run/secrets/token"),),
    settings=ContainerSettings(
        post_start=(Hook(("sh", "-c", "echo started"), user="nobody", environment={"A": "1"}),),
        pre_stop=(Hook(("touch", "/tmp/bye"), working_dir="/tmp"),),
        stop_grace_period=3,
    ),
)
SPEC = ClusterSpec(
    name="proj",
    source=Path("/srv/compose.yaml"),
    format="compose",
    services=(HOOKED,),
    secrets=(FileSpec("token", environment="TOKEN", value="t0k"),),
)


def _order(fake: Fake) -> list[str]:
    """Requests that change a container, with the exec ids and container ids cut."""
    wanted = ("/exec", "/archive", "/start", "/stop", "/containers/create")
    calls = []
    for request in fake.engine.requests:
        if request.method == "GET" or not any(w in request.path for w in wanted):
            continue
        if request.path.endswith("/exec"):
            calls.append(f"exec {' '.join(request.body['Cmd'])}")
        elif request.path.startswith("/exec/"):
            continue
        else:
            calls.append(f"{request.method} {request.path.rsplit('/', 1)[-1]}")
    return calls


def test_up_writes_secrets_before_start_and_runs_post_start_after(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    fake.backend.up(SPEC)
    assert _order(fake) == ["POST create", "PUT archive", "POST start", "exec sh -c echo started"]
    (container,) = fake.engine.containers.values()
    ((path, data),) = container["Archives"]
    assert path == "/"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.getmember("run/secrets/token")
        token = tar.extractfile(member)
        assert token is not None and token.read() == b"t0k"
        assert member.mode == 0o444
    (record,) = fake.engine.execs.values()
    assert record["Config"]["User"] == "nobody"
    assert record["Config"]["Env"] == ["A=1"]
    assert container["Config"]["StopTimeout"] == 3


def test_a_failing_post_start_hook_fails_up_with_its_output(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    fake.engine.on_exec = lambda body: (3, b"no such file\n")
    with pytest.raises(
        BackendError, match=r"post_start hook 'sh -c echo started' exited with code 3: no such file"
    ):
        fake.backend.up(SPEC)


def test_stop_runs_pre_stop_then_gives_the_grace_period(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    fake.backend.up(SPEC)
    fake.engine.requests.clear()
    fake.backend.act("proj", ["app"], Action.STOP)
    assert _order(fake) == ["exec touch /tmp/bye", "POST stop"]
    (stop,) = [r for r in fake.engine.requests if r.path.endswith("/stop")]
    assert stop.query["t"] == ["3"]
    record = list(fake.engine.execs.values())[-1]
    assert record["Config"]["WorkingDir"] == "/tmp"
    fake.engine.requests.clear()
    fake.backend.act("proj", ["app"], Action.STOP)  # stopped already: no hook to run
    assert _order(fake) == ["POST stop"]
    fake.engine.requests.clear()
    fake.backend.act("proj", ["app"], Action.START)
    assert _order(fake) == ["POST start", "exec sh -c echo started"]


def test_down_stops_a_container_with_hooks_before_removing_it(fake: Fake) -> None:
    plain = dataclasses.replace(HOOKED, name="plain", settings=ContainerSettings(), secrets=())
    fake.engine.add_image(IMAGE)
    fake.backend.up(dataclasses.replace(SPEC, services=(HOOKED, plain)))
    fake.engine.requests.clear()
    fake.backend.down("proj")
    assert _order(fake) == ["exec touch /tmp/bye", "POST stop"]
    assert fake.engine.containers == {}
    assert len(fake.engine.calls("DELETE", "/containers/")) == 2


def test_a_recreated_container_runs_its_pre_stop_hooks_first(fake: Fake) -> None:
    fake.engine.add_image(IMAGE)
    fake.backend.up(SPEC)
    fake.engine.requests.clear()
    changed = dataclasses.replace(HOOKED, command=("sleep", "2000"))
    fake.backend.up(dataclasses.replace(SPEC, services=(changed,)))
    assert _order(fake)[:2] == ["exec touch /tmp/bye", "POST create"]
    (container,) = fake.engine.containers.values()
    assert container["Config"]["Labels"][naming.SERVICE_LABEL] == "app"


def test_a_secret_from_a_missing_file_fails_before_anything_is_made(
    fake: Fake, tmp_path: Path
) -> None:
    fake.engine.add_image(IMAGE)
    bound = dataclasses.replace(HOOKED, secrets=(FileMount("pw", "/run/secrets/pw"),))
    spec = dataclasses.replace(
        SPEC, services=(bound,), secrets=(FileSpec("pw", file=str(tmp_path / "pw.txt")),)
    )
    with pytest.raises(BackendError, match=r"secret 'pw': file .*pw.txt does not exist"):
        fake.backend.up(spec)
    assert fake.engine.containers == {} and fake.engine.networks == {}
    (tmp_path / "pw.txt").write_text("x")
    fake.backend.up(spec)
    (container,) = fake.engine.containers.values()
    assert container["HostConfig"]["Binds"] == [f"{tmp_path}/pw.txt:/run/secrets/pw:ro"]
