"""The Docker backend: a `ClusterSpec` made real on the Docker Engine.

Two levels (as docker-py's `api/` and `models/`):

- `squall.runtime.docker_engine.DockerEngine`: one method per Engine API call, and the
  one place where SDK and transport errors become Squall errors;
- `DockerBackend` (here): clusters, services and networks, in terms of those calls.
  What a service becomes is computed without the engine by `docker_create`, names and
  labels by `docker_naming`.

Everything `up` creates is labelled `io.squall.project=<project>` in the very request
that creates it, so an `up` interrupted at any point (Ctrl-C) leaves only labelled
objects, and `down` finds them all from the engine, without the cluster file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

from squall.errors import BackendError, ImageMissing, ServiceNotFound
from squall.runtime.base import (
    Action,
    Backend,
    NetworkAddress,
    NetworkState,
    Progress,
    ServiceState,
    SilentProgress,
)
from squall.runtime.docker import naming
from squall.runtime.docker.create import ContainerRequest, container_request
from squall.runtime.docker.engine import JSON, DockerEngine
from squall.runtime.links import LinkTarget
from squall.spec import graph
from squall.spec.model import ClusterSpec, Dependency, ServiceSpec
from squall.spec.usage import service_networks, used_networks, used_volumes

T = TypeVar("T")
R = TypeVar("R")

POLL_INTERVAL = 0.1
WORKERS = 8
LOCAL_BASE_IMAGES = ("squall/busybox", "squall/debian")


@dataclass
class _UpRun:
    """What one `up` has learned so far (private to `DockerBackend.up`)."""

    spec: ClusterSpec
    progress: Progress
    force: bool
    network_names: dict[str, str] = field(default_factory=dict)
    volume_names: dict[str, str] = field(default_factory=dict)
    images: dict[str, tuple[str, str]] = field(default_factory=dict)
    """service -> (image reference, image id)"""
    existing: dict[str, JSON] = field(default_factory=dict)
    """service -> container summary, as found before this `up`"""
    started: dict[str, str] = field(default_factory=dict)
    """service -> container id, once running (or done, for one-shot services)"""
    satisfied: set[tuple[str, str]] = field(default_factory=set)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.progress = _SerialProgress(self.progress, self.cancelled)

    def pause(self, seconds: float) -> None:
        """Sleep, but end early (with KeyboardInterrupt) when `up` is being abandoned."""
        if self.cancelled.wait(seconds):
            raise KeyboardInterrupt


class _SerialProgress:
    """Reports from several threads, one at a time; stops a thread once `up` is abandoned."""

    def __init__(self, inner: Progress, cancelled: threading.Event | None = None) -> None:
        self._inner = inner
        self._cancelled = cancelled
        self._lock = threading.Lock()

    def step(self, subject: str, message: str, *, done: bool = False) -> None:
        if self._cancelled is not None and self._cancelled.is_set():
            raise KeyboardInterrupt
        with self._lock:
            self._inner.step(subject, message, done=done)


class DockerBackend(Backend):
    """Clusters on the Docker Engine. Contacts the engine only when first asked to.

    Args:
        engine: the low-level engine access (default: from `DOCKER_HOST`/the socket).
        stop_timeout: seconds `stop` and `restart` give a container before SIGKILL.
        health_timeout: upper bound on waiting for `service_healthy`, in seconds; by
            default derived from the dependency's own healthcheck timings.
        completion_timeout: upper bound on waiting for `service_completed_successfully`.
    """

    name = "docker"

    def __init__(
        self,
        engine: DockerEngine | None = None,
        *,
        stop_timeout: int = 10,
        health_timeout: float | None = None,
        completion_timeout: float = 600.0,
    ) -> None:
        self._engine = engine or DockerEngine()
        self.stop_timeout = stop_timeout
        self.health_timeout = health_timeout
        self.completion_timeout = completion_timeout

    @property
    def engine(self) -> DockerEngine:
        return self._engine

    def close(self) -> None:
        self._engine.close()

    # -- up ------------------------------------------------------------------------------

    def up(
        self,
        spec: ClusterSpec,
        *,
        build: bool = False,
        force: bool = False,
        progress: Progress | None = None,
    ) -> None:
        """Create what is missing and start everything in `depends_on` order.

        Idempotent: a container whose create request (config, networks, image id) hashes
        to its `io.squall.config-hash` label is only started if it is not running;
        otherwise, or with `force`, it is recreated. Volumes and networks that exist are
        reused.

        Raises:
            EngineUnavailable: no engine answers.
            ImageMissing: an image is absent and cannot be pulled (nor built).
            BackendError: the engine refused something, an external network or volume
                is absent, or a dependency never became healthy / did not complete.
        """
        _check_startable(spec)
        run = _UpRun(spec=spec, progress=progress or SilentProgress(), force=force)
        self._engine.ping()
        self._ensure_images(run, build=build)  # first: a missing image leaves nothing made
        self._ensure_volumes(run)
        self._ensure_networks(run)
        for summary in self._engine.containers(naming.project_filter(spec.name)):
            service = (summary.get("Labels") or {}).get(naming.SERVICE_LABEL)
            if service:
                run.existing[service] = summary
        known = set(spec.service_names)
        for service in sorted(set(run.existing) - known):
            run.progress.step(service, "not in the cluster file (left alone; `down` removes it)")
        self._up_services(run)
        run.progress.step(spec.name, f"{len(spec.services)} service(s) up", done=True)

    def _up_services(self, run: _UpRun) -> None:
        """Bring up every service once its dependencies are up, several at a time.

        On the first failure (or Ctrl-C) nothing new is begun, services under way stop
        at their next step, and the failure is raised.
        """
        needs = _dependencies(run.spec)
        waiting = set(needs)
        done: set[str] = set()
        running: dict[Future[None], str] = {}
        pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="squall-up")
        try:
            while waiting or running:
                for name in sorted(waiting):
                    if needs[name] <= done:
                        service = run.spec.service(name)
                        assert service is not None
                        waiting.discard(name)
                        running[pool.submit(self._up_service, run, service)] = name
                if not running:
                    raise BackendError(
                        f"services wait for each other: {', '.join(sorted(waiting))} "
                        "(depends_on, links and network_mode: service:...)"
                    )
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    name = running.pop(future)
                    future.result()
                    done.add(name)
        except BaseException:
            run.cancelled.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _ensure_volumes(self, run: _UpRun) -> None:
        project = run.spec.name
        for volume in used_volumes(run.spec):
            engine_name = naming.volume_name(project, volume)
            run.volume_names[volume.name] = engine_name
            if self._engine.inspect_volume(engine_name) is not None:
                continue
            if volume.external:
                raise BackendError(
                    f"volume {engine_name!r} is declared external but does not exist; "
                    f"create it with `docker volume create {engine_name}`"
                )
            run.progress.step(f"volume {volume.name}", f"creating {engine_name}")
            self._engine.create_volume(
                engine_name,
                driver=volume.driver,
                labels=naming.volume_labels(project, volume.name, volume.labels),
            )

    def _ensure_networks(self, run: _UpRun) -> None:
        project = run.spec.name
        for network in used_networks(run.spec):
            engine_name = naming.network_name(project, network)
            run.network_names[network.name] = engine_name
            if self._engine.inspect_network(engine_name) is not None:
                continue
            if network.external:
                raise BackendError(
                    f"network {engine_name!r} is declared external but does not exist; "
                    f"create it with `docker network create {engine_name}`"
                )
            run.progress.step(f"network {network.name}", f"creating {engine_name}")
            self._engine.create_network(
                engine_name,
                driver=network.driver,
                subnets=network.subnets,
                gateway=network.gateway,
                internal=network.internal,
                labels=naming.network_labels(project, network.name, network.labels),
            )

    def _ensure_images(self, run: _UpRun, *, build: bool) -> None:
        project = run.spec.name
        known: dict[str, str] = {}
        # Builds first: a service may run the image another one builds (`image:` on both).
        ordered = sorted(run.spec.services, key=lambda s: (s.build is None, s.name))
        for service in ordered:
            if service.build is not None:
                ref = naming.build_tag(project, service)
            elif service.image:
                ref = service.image
            else:
                raise BackendError(
                    f"service {service.name!r} has neither `image` nor `build`",
                    service=service.name,
                )
            if ref not in known:
                known[ref] = self._image_id(run, service, ref, build=build)
            run.images[service.name] = (ref, known[ref])

    def _image_id(self, run: _UpRun, service: ServiceSpec, ref: str, *, build: bool) -> str:
        image = self._engine.inspect_image(ref)
        if service.build is not None and (build or image is None):
            spec = service.build
            subject = service.name
            if not spec.context.is_dir():
                raise BackendError(
                    f"service {subject!r}: build context {spec.context} is not a directory",
                    service=subject,
                )
            run.progress.step(subject, f"building {ref} from {spec.context}")
            for line in self._engine.build(
                path=str(spec.context),
                tag=ref,
                dockerfile=spec.dockerfile,
                buildargs=spec.args,
                target=spec.target,
                labels={naming.PROJECT_LABEL: run.spec.name},
                subject=subject,
            ):
                run.progress.step(subject, line)
            image = self._engine.inspect_image(ref)
        if image is None:
            run.progress.step(service.name, f"pulling {ref}")
            try:
                for line in self._engine.pull(ref, service.name):
                    run.progress.step(service.name, line)
            except ImageMissing as exc:
                reason = exc.message.split("; ", 1)[-1]
                hint = f"{_image_hint(ref, service)} (engine: {reason[:200]})"
                raise ImageMissing(ref, service.name, hint=hint) from exc
            image = self._engine.inspect_image(ref)
            if image is None:
                raise ImageMissing(ref, service.name, hint=_image_hint(ref, service))
        return str(image["Id"])

    def _up_service(self, run: _UpRun, service: ServiceSpec) -> None:
        progress = run.progress
        for dependency in service.depends_on:
            self._wait_for(run, service, dependency)
        ref, image_id = run.images[service.name]
        request = container_request(
            run.spec,
            service,
            image=ref,
            network_names=run.network_names,
            volume_names=run.volume_names,
            links=self._link_targets(run, service),
        )
        digest = naming.config_hash(request.hash_document(image_id))
        current = run.existing.get(service.name)
        if current is not None and not run.force:
            labels = current.get("Labels") or {}
            # A container never started may lack networks: its `up` was interrupted.
            if labels.get(naming.HASH_LABEL) == digest and current.get("State") != "created":
                run.started[service.name] = self._ensure_running(run, service, current)
                return
        if current is not None:
            progress.step(service.name, f"recreating {request.name}")
            self._engine.remove_container(str(current["Id"]))
        run.started[service.name] = self._create_and_start(run, service, request, digest)

    def _create_and_start(
        self, run: _UpRun, service: ServiceSpec, request: ContainerRequest, digest: str
    ) -> str:
        progress = run.progress
        config = dict(request.config)
        config["Labels"] = {**config["Labels"], naming.HASH_LABEL: digest}
        progress.step(service.name, f"creating {request.name}")
        ident = self._engine.create_container(request.name, config, service.name)
        for attachment in request.connect:
            progress.step(service.name, f"joining network {attachment.network}")
            self._engine.connect(
                ident,
                attachment.engine_name,
                aliases=attachment.aliases,
                links=attachment.links,
                ipv4_address=attachment.ipv4_address,
                service=service.name,
            )
        self._delay(run, service)
        progress.step(service.name, f"starting {request.name}")
        self._engine.start(ident, service.name)
        progress.step(service.name, "started", done=True)
        return ident

    def _ensure_running(self, run: _UpRun, service: ServiceSpec, summary: JSON) -> str:
        ident = str(summary["Id"])
        state = str(summary.get("State") or "")
        if state == "running":
            run.progress.step(service.name, "up to date", done=True)
        elif state == "paused":
            run.progress.step(service.name, "unpausing")
            self._engine.unpause(ident, service.name)
        else:
            self._delay(run, service)
            run.progress.step(service.name, f"starting ({state})")
            self._engine.start(ident, service.name)
            run.progress.step(service.name, "started", done=True)
        return ident

    def _delay(self, run: _UpRun, service: ServiceSpec) -> None:
        if service.start_delay > 0:
            run.progress.step(service.name, f"waiting {service.start_delay:g}s (start_delay)")
            run.pause(service.start_delay)

    def _link_targets(self, run: _UpRun, service: ServiceSpec) -> list[LinkTarget]:
        targets: list[LinkTarget] = []
        mine = [n.name for n in service_networks(service)]
        for link in service.links:
            linked = run.spec.service(link.service)
            ident = run.started.get(link.service)
            if linked is None or ident is None:
                continue
            info = self._engine.inspect_container(ident) or {}
            attached = (info.get("NetworkSettings") or {}).get("Networks") or {}
            ip: str | None = None
            for name in mine:
                endpoint = attached.get(run.network_names.get(name, ""))
                if endpoint and endpoint.get("IPAddress"):
                    ip = str(endpoint["IPAddress"])
                    break
            exposed = (info.get("Config") or {}).get("ExposedPorts") or {}
            ports = sorted(_parse_port_key(key) for key in exposed)
            targets.append(
                LinkTarget(
                    alias=link.alias,
                    container=str(info.get("Name", "")).lstrip("/"),
                    ip=ip,
                    ports=tuple(ports),
                    environment=dict(linked.environment),
                )
            )
        return targets

    def _wait_for(self, run: _UpRun, service: ServiceSpec, dependency: Dependency) -> None:
        key = (dependency.service, dependency.condition)
        if key in run.satisfied or dependency.condition == "service_started":
            return
        ident = run.started.get(dependency.service)
        if ident is None:
            raise BackendError(
                f"service {service.name!r} depends on {dependency.service!r}, "
                "which was not started",
                service=service.name,
            )
        if dependency.condition == "service_healthy":
            run.progress.step(service.name, f"waiting for {dependency.service} to be healthy")
            self._wait_healthy(run, dependency.service, ident)
        else:
            run.progress.step(service.name, f"waiting for {dependency.service} to complete")
            self._wait_completed(run, dependency.service, ident)
        run.satisfied.add(key)

    def _wait_healthy(self, run: _UpRun, service: str, ident: str) -> None:
        info = self._inspect(service, ident)
        check = (info.get("Config") or {}).get("Healthcheck") or {}
        test = check.get("Test") or []
        if not test or test == ["NONE"]:
            raise BackendError(
                f"service {service!r} has no healthcheck, so nothing can wait for it to be "
                "healthy (add a healthcheck or use condition: service_started)",
                service=service,
            )
        timeout = self.health_timeout or _health_budget(check)
        deadline = time.monotonic() + timeout
        while True:
            state = info.get("State") or {}
            health = (state.get("Health") or {}).get("Status")
            if health == "healthy":
                return
            if health == "unhealthy":
                raise BackendError(
                    f"service {service!r} is unhealthy: {_last_probe(state)}", service=service
                )
            if state.get("Status") in ("exited", "dead"):
                raise BackendError(
                    f"service {service!r} exited with code {state.get('ExitCode')} "
                    "before it became healthy",
                    service=service,
                )
            if time.monotonic() > deadline:
                raise BackendError(
                    f"service {service!r} did not become healthy within {timeout:g}s "
                    f"(health: {health}; {_last_probe(state)})",
                    service=service,
                )
            run.pause(POLL_INTERVAL)
            info = self._inspect(service, ident)

    def _wait_completed(self, run: _UpRun, service: str, ident: str) -> None:
        deadline = time.monotonic() + self.completion_timeout
        while True:
            state = self._inspect(service, ident).get("State") or {}
            if state.get("Status") in ("exited", "dead"):
                code = state.get("ExitCode")
                if code == 0:
                    return
                raise BackendError(
                    f"service {service!r} did not complete successfully (exit code {code})",
                    service=service,
                )
            if time.monotonic() > deadline:
                raise BackendError(
                    f"service {service!r} did not complete within {self.completion_timeout:g}s",
                    service=service,
                )
            run.pause(POLL_INTERVAL)

    def _inspect(self, service: str, ident: str) -> JSON:
        info = self._engine.inspect_container(ident)
        if info is None:
            raise BackendError(f"the container of {service!r} disappeared", service=service)
        return info

    # -- down ----------------------------------------------------------------------------

    def down(
        self,
        project: str,
        *,
        volumes: bool = False,
        images: bool = False,
        progress: Progress | None = None,
    ) -> None:
        """Remove every container and network labelled with `project` (volumes too).

        Works without the cluster file. Containers are force-removed with their
        anonymous volumes; named volumes only with `volumes=True`; with `images=True`
        every image built for the project (found by label: the current ones and the
        untagged ones that rebuilds replaced). Everything that can be removed is;
        failures are reported together at the end.

        Raises:
            BackendError: something labelled with `project` could not be removed.
        """
        progress = _SerialProgress(progress or SilentProgress())
        labels = naming.project_filter(project)
        failures: list[str] = []

        def remove_container(summary: JSON) -> None:
            name = _container_display_name(summary)
            progress.step(name, "removing")
            self._engine.remove_container(str(summary["Id"]))

        failures += _each(remove_container, self._engine.containers(labels))

        def remove_network(summary: JSON) -> None:
            progress.step(f"network {summary['Name']}", "removing")
            self._engine.remove_network(str(summary["Id"]))

        failures += _each(remove_network, self._engine.networks(labels))
        if volumes:

            def remove_volume(summary: JSON) -> None:
                progress.step(f"volume {summary['Name']}", "removing")
                self._engine.remove_volume(str(summary["Name"]))

            failures += _each(remove_volume, self._engine.volumes(labels))
        if images:

            def remove_image(summary: JSON) -> None:
                tags = [t for t in summary.get("RepoTags") or [] if t != "<none>:<none>"]
                progress.step(f"image {', '.join(tags) or summary['Id'][:19]}", "removing")
                self._engine.remove_image(str(summary["Id"]))

            failures += _each(remove_image, self._engine.images(labels))
        if failures:
            raise BackendError(f"down {project!r} left things behind: " + "; ".join(failures))
        progress.step(project, "down", done=True)

    # -- reading state -------------------------------------------------------------------

    def status(self, project: str) -> list[ServiceState]:
        labels = naming.project_filter(project)
        networks = self._cluster_network_names(project)
        summaries = self._engine.containers(labels)
        details = _parallel(lambda s: self._engine.inspect_container(str(s["Id"])), summaries)
        states = [
            _service_state(summary, info, networks)
            for summary, info in zip(summaries, details, strict=True)
            if info is not None
        ]
        return sorted(states, key=lambda s: (s.service, s.container))

    def networks(self, project: str) -> list[NetworkState]:
        labels = naming.project_filter(project)
        containers = self._engine.containers(labels)
        by_id = {
            str(c["Id"]): (c.get("Labels") or {}).get(naming.SERVICE_LABEL, "") for c in containers
        }
        found: dict[str, tuple[str, bool]] = {}
        for summary in self._engine.networks(labels):
            cluster_name = (summary.get("Labels") or {}).get(naming.NETWORK_LABEL)
            found[str(summary["Name"])] = (cluster_name or str(summary["Name"]), False)
        for summary in containers:
            mapping = naming.parse_networks_label(
                (summary.get("Labels") or {}).get(naming.NETWORKS_LABEL)
            )
            for engine_name, cluster_name in mapping.items():
                found.setdefault(engine_name, (cluster_name, True))
        result: list[NetworkState] = []
        for engine_name, (cluster_name, external) in found.items():
            info = self._engine.inspect_network(engine_name)
            if info is None:
                continue
            ipam = (info.get("IPAM") or {}).get("Config") or []
            attached = info.get("Containers") or {}
            result.append(
                NetworkState(
                    name=cluster_name,
                    backend_name=engine_name,
                    id=str(info.get("Id", ""))[:12] or None,
                    driver=str(info.get("Driver") or ""),
                    subnets=tuple(str(p["Subnet"]) for p in ipam if p.get("Subnet")),
                    internal=bool(info.get("Internal")),
                    external=external,
                    services=tuple(sorted({by_id[c] for c in attached if c in by_id})),
                )
            )
        return sorted(result, key=lambda n: n.name)

    def logs(
        self, project: str, service: str, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[bytes]:
        ident = str(self._container(project, service)["Id"])
        return self._engine.logs(ident, follow=follow, tail=tail)

    def exec(self, project: str, service: str, argv: Sequence[str], *, tty: bool = False) -> int:
        """Run `argv` inside the service; returns its exit code.

        Without `tty`, output streams to this process's stdout and stderr (stdin is not
        attached). With `tty` and a terminal on stdin, `docker exec -it` takes over the
        terminal when the `docker` CLI is installed; otherwise the output of a tty exec
        is relayed (still without stdin).
        """
        if not argv:
            raise BackendError("exec needs a command to run", service=service)
        ident = str(self._container(project, service)["Id"])
        cli = shutil.which("docker")
        if tty and cli and sys.stdin.isatty():
            return subprocess.call([cli, "exec", "-it", ident, *argv])
        exec_id = self._engine.exec_create(ident, argv, tty=tty, stdin=False)
        out, err = sys.stdout.buffer, sys.stderr.buffer
        sys.stdout.flush()
        sys.stderr.flush()
        for stdout, stderr in self._engine.exec_stream(exec_id, tty=tty):
            if stdout:
                out.write(stdout)
                out.flush()
            if stderr:
                err.write(stderr)
                err.flush()
        code = self._engine.exec_exit_code(exec_id)
        return 0 if code is None else code

    def act(
        self, project: str, services: Sequence[str], action: Action, *, signal: str | None = None
    ) -> None:
        """Start, stop, restart, kill (with `signal`), pause or unpause services.

        Raises:
            ServiceNotFound: a service has no container in the project (all are checked
                before anything is done).
        """
        targets = [(name, str(self._container(project, name)["Id"])) for name in services]
        engine = self._engine
        for name, ident in targets:
            if action is Action.START:
                engine.start(ident, name)
            elif action is Action.STOP:
                engine.stop(ident, self.stop_timeout, name)
            elif action is Action.RESTART:
                engine.restart(ident, self.stop_timeout, name)
            elif action is Action.KILL:
                engine.kill(ident, signal, name)
            elif action is Action.PAUSE:
                engine.pause(ident, name)
            elif action is Action.UNPAUSE:
                engine.unpause(ident, name)
            else:  # pragma: no cover - Action is closed
                raise BackendError(f"unknown action {action!r}")

    # -- ad-hoc networks (`squall net`) --------------------------------------------------

    def create_network(
        self, project: str, name: str, *, subnet: str | None = None, internal: bool = False
    ) -> NetworkState:
        """Create network `name` for `project` (engine name `<project>_<name>`).

        It is labelled with the project, so `down` removes it like the file's own.

        Raises:
            BackendError: a network of that name exists already, or the engine refused.
        """
        engine_name = naming.adhoc_network_name(project, name)
        if self._find_network(project, name) is not None or (
            self._engine.inspect_network(engine_name) is not None
        ):
            raise BackendError(f"network {name!r} exists already ({engine_name})")
        self._engine.create_network(
            engine_name,
            driver="bridge",
            subnets=(subnet,) if subnet else (),
            gateway=None,
            internal=internal,
            labels=naming.network_labels(project, name),
        )
        for state in self.networks(project):
            if state.backend_name == engine_name:
                return state
        raise BackendError(f"network {engine_name!r} vanished right after it was created")

    def remove_network(self, project: str, name: str) -> None:
        """Remove a network of `project` that no container is attached to.

        A network still in use is refused (not disconnected behind the user's back): the
        error names the services to `squall net disconnect` first. Networks the project
        did not create (external ones) are never removed.

        Raises:
            BackendError: unknown network, external network, or containers attached.
        """
        summary = self._find_network(project, name)
        if summary is None:
            known = sorted(n.name for n in self.networks(project) if not n.external)
            raise BackendError(
                f"cluster {project!r} has no network {name!r} of its own "
                f"(known: {', '.join(known) or 'none'})"
            )
        info = self._engine.inspect_network(str(summary["Id"])) or {}
        attached = info.get("Containers") or {}
        if attached:
            names = sorted(str(c.get("Name", cid[:12])) for cid, c in attached.items())
            raise BackendError(
                f"network {name!r} is in use by {', '.join(names)}; "
                "disconnect them first (`squall net disconnect NETWORK SERVICE`)"
            )
        self._engine.remove_network(str(summary["Id"]))

    def connect(
        self, project: str, network: str, service: str, *, aliases: Sequence[str] = ()
    ) -> None:
        """Attach `service` to `network`, known there by its name and `aliases`."""
        engine_name = self._network_engine_name(project, network)
        ident = str(self._container(project, service)["Id"])
        self._engine.connect(
            ident,
            engine_name,
            aliases=tuple(dict.fromkeys((service, *aliases))),
            service=service,
        )

    def disconnect(self, project: str, network: str, service: str) -> None:
        engine_name = self._network_engine_name(project, network)
        ident = str(self._container(project, service)["Id"])
        self._engine.disconnect(ident, engine_name, service)

    # -- helpers -------------------------------------------------------------------------

    def _container(self, project: str, service: str) -> JSON:
        containers = self._engine.containers(naming.project_filter(project))
        for summary in containers:
            if (summary.get("Labels") or {}).get(naming.SERVICE_LABEL) == service:
                return summary
        known = sorted(
            {
                str(label)
                for c in containers
                if (label := (c.get("Labels") or {}).get(naming.SERVICE_LABEL))
            }
        )
        detail = f"known: {', '.join(known)}" if known else "it has no containers; run `up`"
        raise ServiceNotFound(
            f"cluster {project!r} has no service {service!r} ({detail})", service=service
        )

    def _find_network(self, project: str, name: str) -> JSON | None:
        labels = [*naming.project_filter(project), f"{naming.NETWORK_LABEL}={name}"]
        found = self._engine.networks(labels)
        return found[0] if found else None

    def _network_engine_name(self, project: str, network: str) -> str:
        summary = self._find_network(project, network)
        if summary is not None:
            return str(summary["Name"])
        for state in self.networks(project):
            if network in (state.name, state.backend_name):
                return state.backend_name
        if self._engine.inspect_network(network) is not None:
            return network
        raise BackendError(f"cluster {project!r} has no network {network!r}")

    def _cluster_network_names(self, project: str) -> dict[str, str]:
        return {
            str(n["Name"]): str((n.get("Labels") or {}).get(naming.NETWORK_LABEL, n["Name"]))
            for n in self._engine.networks(naming.project_filter(project))
        }


def _dependencies(spec: ClusterSpec) -> dict[str, set[str]]:
    """What each service needs up first: `spec.graph` edges plus `network_mode: service:X`."""
    names = set(spec.service_names)
    needs: dict[str, set[str]] = {}
    for service in spec.services:
        deps = {edge.needs for edge in graph.edges(service)}
        if service.network_mode and service.network_mode.startswith("service:"):
            deps.add(service.network_mode.split(":", 1)[1])
        needs[service.name] = deps & names
    return needs


def _check_startable(spec: ClusterSpec) -> None:
    """Refuse, before anything is made, services that would wait for each other.

    Raises:
        SpecError: a cycle of `depends_on`/`links` (from `squall.spec.graph`).
        BackendError: a cycle that goes through `network_mode: service:...`.
    """
    graph.start_order(spec)
    needs = _dependencies(spec)
    done: set[str] = set()
    while len(done) < len(needs):
        ready = {name for name, deps in needs.items() if name not in done and deps <= done}
        if not ready:
            stuck = sorted(set(needs) - done)
            raise BackendError(
                f"services wait for each other: {', '.join(stuck)} "
                "(depends_on, links and network_mode: service:...)"
            )
        done |= ready


def _image_hint(ref: str, service: ServiceSpec) -> str:
    if service.build is not None:
        return f"run `squall up --build` to build it from {service.build.context}"
    if ref.startswith(LOCAL_BASE_IMAGES):
        return "build it with `squall images build` (or `python -m squall.images`)"
    return (
        f"`docker pull {ref}` or `docker build -t {ref} ...` it, or point the service at a "
        "local image (`squall images build` makes squall/busybox and squall/debian)"
    )


def _health_budget(check: Mapping[str, Any]) -> float:
    """Seconds a healthcheck needs at most to say healthy or unhealthy, plus slack."""
    second = 1e9
    interval = (check.get("Interval") or 30 * second) / second
    timeout = (check.get("Timeout") or 30 * second) / second
    start = (check.get("StartPeriod") or 0) / second
    retries = check.get("Retries") or 3
    return float(start + (interval + timeout) * (retries + 1) + 10)


def _last_probe(state: Mapping[str, Any]) -> str:
    log = (state.get("Health") or {}).get("Log") or []
    if not log:
        return "no probe has run yet"
    last = log[-1]
    output = str(last.get("Output") or "").strip().replace("\n", " ")
    return f"last probe exit code {last.get('ExitCode')}: {output[:200] or '(no output)'}"


def _parse_port_key(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    return int(port), proto or "tcp"


def _container_display_name(summary: Mapping[str, Any]) -> str:
    names = summary.get("Names") or []
    return str(names[0]).lstrip("/") if names else str(summary["Id"])[:12]


def _service_state(
    summary: Mapping[str, Any], info: Mapping[str, Any], networks: Mapping[str, str]
) -> ServiceState:
    labels = (info.get("Config") or {}).get("Labels") or {}
    state = info.get("State") or {}
    ident = str(info.get("Id", ""))
    short = ident[:12]
    fallback = naming.parse_networks_label(labels.get(naming.NETWORKS_LABEL))
    addresses: list[NetworkAddress] = []
    settings = info.get("NetworkSettings") or {}
    for engine_name, endpoint in sorted((settings.get("Networks") or {}).items()):
        cluster_name = networks.get(engine_name) or fallback.get(engine_name) or engine_name
        aliases = tuple(a for a in endpoint.get("Aliases") or () if a not in (short, ident))
        addresses.append(
            NetworkAddress(
                network=cluster_name,
                ip=endpoint.get("IPAddress") or None,
                prefix_len=endpoint.get("IPPrefixLen") or None,
                aliases=aliases,
            )
        )
    pid = int(state.get("Pid") or 0) or None
    ports: list[str] = []
    for key, bindings in sorted((settings.get("Ports") or {}).items()):
        for binding in bindings or ():
            ports.append(f"{binding.get('HostIp', '')}:{binding.get('HostPort', '')}->{key}")
    return ServiceState(
        service=str(labels.get(naming.SERVICE_LABEL, "")),
        container=str(info.get("Name", "")).lstrip("/") or _container_display_name(summary),
        id=short or None,
        state=str(state.get("Status") or "unknown"),
        health=(state.get("Health") or {}).get("Status"),
        addresses=tuple(sorted(addresses, key=lambda a: a.network)),
        pid=pid,
        netns=f"/proc/{pid}/ns/net" if pid else None,
        image=(info.get("Config") or {}).get("Image"),
        ports=tuple(ports),
    )


def _parallel(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    items = list(items)
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        return list(pool.map(function, items))


def _each(function: Callable[[JSON], None], items: Iterable[JSON]) -> list[str]:
    """Apply `function` to every item (in parallel); the failures' messages."""

    def attempt(item: JSON) -> str | None:
        try:
            function(item)
        except BackendError as exc:
            return exc.message
        return None

    return [message for message in _parallel(attempt, items) if message]


__all__ = ["DockerBackend", "DockerEngine"]
