"""Squall's agent on one Docker Engine: image, container, and one request at a time.

The agent is how faults reach a kernel that is not this machine's: a container on that
engine with `pid: host` (to see every container's `/proc/<pid>/ns/net`), `network:
host`, NET_ADMIN and SYS_ADMIN, labelled `io.squall.agent=<project>`, that does nothing
until asked. Each request is an exec of `python3 -m squall.faults.agent` with the
request on stdin and the answer on stdout, through the engine's own API: no port, no
credential beyond the engine's.

Its image, `squall/agent`, is built on that engine through its API: the local Debian
image (`squall/debian`, copied from this machine's engine, else built there from the
Debian packages by `squall.images`) with this Squall's own modules. Nothing is pulled.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

from squall.errors import BackendError, EngineUnavailable
from squall.runtime.base import Progress, SilentProgress
from squall.runtime.docker.engine import DockerEngine

AGENT_LABEL = "io.squall.agent"
AGENT_IMAGE = "squall/agent:latest"
BASE_IMAGE = "squall/debian:bookworm"
RECIPE_LABEL = "io.squall.recipe"
LOCAL_ENGINE = "unix:///var/run/docker.sock"
COMMAND = ("python3", "-m", "squall.faults.agent")
CAPABILITIES = ("NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE", "NET_RAW")
PACKAGE = Path(__file__).resolve().parents[2]
"""The `squall` package whose modules the agent runs."""


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def recipe() -> str:
    """A hash of the modules that go into the agent: a changed Squall rebuilds it."""
    digest = hashlib.sha256()
    for path in _sources():
        digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def build_context(version: str) -> bytes:
    """The agent's build context: a Dockerfile and the `squall` package (its .py files)."""
    dockerfile = (
        f"FROM {BASE_IMAGE}\n"
        "COPY squall /opt/squall/squall\n"
        "ENV PYTHONPATH=/opt/squall PYTHONDONTWRITEBYTECODE=1\n"
        f'LABEL {RECIPE_LABEL}="{version}" io.squall.image="agent"\n'
        'CMD ["sleep", "infinity"]\n'
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add(tar, "Dockerfile", dockerfile.encode())
        for path in _sources():
            _add(tar, f"squall/{path.relative_to(PACKAGE)}", path.read_bytes())
    return buffer.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def ensure_image(engine: DockerEngine, progress: Progress) -> None:
    """`squall/agent` of this Squall's modules on `engine` (built once per change)."""
    version = recipe()
    image = engine.inspect_image(AGENT_IMAGE)
    if (
        image is not None
        and ((image.get("Config") or {}).get("Labels") or {}).get(RECIPE_LABEL) == version
    ):
        return
    if engine.inspect_image(BASE_IMAGE) is None:
        _bring_base(engine, progress)
    progress.step("agent", f"building {AGENT_IMAGE} on {engine.url}")
    for line in engine.build_from_context(build_context(version), tag=AGENT_IMAGE, subject="agent"):
        progress.step("agent", line)


def _bring_base(engine: DockerEngine, progress: Progress) -> None:
    """The Debian image onto `engine`: from this machine's engine when it has it (a
    `docker save | docker load` through both APIs), else built there from packages."""
    local = DockerEngine(LOCAL_ENGINE)
    try:
        has_it = local.url != engine.url and local.inspect_image(BASE_IMAGE) is not None
    except EngineUnavailable:
        has_it = False
    try:
        if has_it:
            progress.step("agent", f"copying {BASE_IMAGE} to {engine.url}")
            engine.load_image(local.save_image(BASE_IMAGE))
            return
    finally:
        local.close()
    from squall.images._build import build_debian_image  # the images tool, only here

    build_debian_image(engine, progress)


def ensure_agent(engine: DockerEngine, project: str, progress: Progress | None = None) -> str:
    """The id of `project`'s agent on `engine`, started (and its image built) if need be.

    Raises:
        BackendError: the engine refused the image or the container.
    """
    progress = progress or SilentProgress()
    found = engine.containers([f"{AGENT_LABEL}={project}"])
    if found:
        ident = str(found[0]["Id"])
        if found[0].get("State") != "running":
            engine.start(ident, "agent")
        return ident
    ensure_image(engine, progress)
    config = {
        "Image": AGENT_IMAGE,
        "Cmd": ["sleep", "infinity"],
        "Labels": {AGENT_LABEL: project},
        "HostConfig": {
            "PidMode": "host",
            "NetworkMode": "host",
            "CapAdd": list(CAPABILITIES),
            "SecurityOpt": ["apparmor=unconfined", "seccomp=unconfined"],
            "Init": True,
            "RestartPolicy": {"Name": "no"},
        },
    }
    name = f"squall-agent-{project}"[:63]
    progress.step("agent", f"starting {name} on {engine.url}")
    ident = engine.create_container(name, config, "agent")
    engine.start(ident, "agent")
    return ident


def call(engine: DockerEngine, ident: str, request: str) -> str:
    """One request to the agent `ident`; its answer (JSON text).

    Raises:
        BackendError: the exec failed or the agent wrote no answer.
    """
    exec_id = engine.exec_create(ident, COMMAND, tty=False, stdin=True)
    out, err = engine.exec_with_input(exec_id, request.encode())
    if not out.strip():
        code = engine.exec_exit_code(exec_id)
        detail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise BackendError(f"the agent on {engine.url} failed (exit {code}): {detail[0]}")
    return out.decode(errors="replace")


def remove_agents(engine: DockerEngine, project: str) -> int:
    """Remove `project`'s agents on `engine` (the shaper inside goes with them)."""
    found = engine.containers([f"{AGENT_LABEL}={project}"])
    for summary in found:
        engine.remove_container(str(summary["Id"]))
    return len(found)
