"""One `up` on the Docker Engine: images, volumes, networks, then every service in
`depends_on` order, several at a time.

`UpRun` holds what one `up` has learned so far (engine names of networks and volumes,
image ids, containers found and started) and does the work through `DockerEngine`'s
1:1 calls; what a container becomes is computed by `create` without the engine.
Everything is labelled `io.squall.project=<project>` in the very request that creates
it, so an `up` interrupted at any point (Ctrl-C) leaves only labelled objects.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from squall.errors import BackendError, ImageMissing
from squall.runtime.base import Progress, Waits
from squall.runtime.docker import naming
from squall.runtime.docker.create import ContainerRequest, container_request
from squall.runtime.docker.engine import JSON, DockerEngine
from squall.runtime.docker.files import archive
from squall.runtime.docker.hooks import run_hooks, stop_plan
from squall.runtime.docker.status import container_display_name
from squall.runtime.links import LinkTarget
from squall.spec import graph
from squall.spec.model import ClusterSpec, Dependency, ServiceSpec
from squall.spec.usage import service_networks, used_networks, used_volumes

POLL_INTERVAL = 0.1
WORKERS = 8
LOCAL_BASE_IMAGES = ("squall/busybox", "squall/debian")


@dataclass
class UpRun:
    """One `up`: what it was asked, and what it has learned so far."""

    engine: DockerEngine
    spec: ClusterSpec
    progress: Progress
    force: bool = False
    waits: Waits = field(default_factory=Waits)
    network_names: dict[str, str] = field(default_factory=dict)
    volume_names: dict[str, str] = field(default_factory=dict)
    images: dict[str, tuple[str, str]] = field(default_factory=dict)
    """service -> (image reference, image id)"""
    existing: dict[str, dict[int, JSON]] = field(default_factory=dict)
    """service -> replica number -> container summary, as found before this `up`"""
    started: dict[str, list[str]] = field(default_factory=dict)
    """service -> its containers' ids (replica 1 first), once running (or done)"""
    satisfied: set[tuple[str, str]] = field(default_factory=set)
    only: frozenset[str] | None = None
    """`up SERVICE...`: the services to bring up (None: every one)."""
    numbers: Mapping[str, tuple[int, ...]] | None = None
    """The replica numbers this engine runs of each service (several hosts share the
    replicas out); None: all of them, 1..scale."""
    shared_networks: Mapping[str, str] | None = None
    """Networks a Swarm manager made for every host: engine names by cluster name. When
    given, this engine creates no network of its own."""
    cancelled: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.progress = SerialProgress(self.progress, self.cancelled)

    def pause(self, seconds: float) -> None:
        """Sleep, but end early (with KeyboardInterrupt) when `up` is being abandoned."""
        if self.cancelled.wait(seconds):
            raise KeyboardInterrupt

    def run(self, *, build: bool = False) -> None:
        """See `DockerBackend.up`."""
        spec = self.spec
        _check_startable(spec)
        self.engine.ping()
        self._check_files()
        self._ensure_images(build=build)  # first: a missing image leaves nothing made
        self._ensure_volumes()
        if self.shared_networks is None:
            self._ensure_networks()
        else:
            self.network_names.update(self.shared_networks)
        for summary in self.engine.containers(naming.project_filter(spec.name)):
            labels = summary.get("Labels") or {}
            service = labels.get(naming.SERVICE_LABEL)
            if service:
                number = naming.container_number(labels) or 1
                self.existing.setdefault(service, {})[number] = summary
        known = set(spec.service_names)
        for service in sorted(set(self.existing) - known):
            self.progress.step(service, "not in the cluster file (left alone; `down` removes it)")
        for service in sorted(known - self.chosen):
            # Not brought up here: what runs already still serves links and waits.
            running = self.existing.get(service, {})
            self.started[service] = [
                str(c["Id"]) for _n, c in sorted(running.items()) if c.get("State") == "running"
            ]
        self._up_services()
        containers = sum(len(self.started.get(name, ())) for name in self.chosen)
        done = f"{len(self.chosen)} service(s) up"
        if containers != len(self.chosen):
            done += f" ({containers} containers)"
        self.progress.step(spec.name, done, done=True)

    @property
    def chosen(self) -> set[str]:
        """The services this `up` brings up."""
        names = set(self.spec.service_names)
        return names if self.only is None else names & self.only

    def _up_services(self) -> None:
        """Bring up every service once its dependencies are up, several at a time.

        On the first failure (or Ctrl-C) nothing new is begun, services under way stop
        at their next step, and the failure is raised.
        """
        chosen = self.chosen
        needs = {name: deps & chosen for name, deps in _dependencies(self.spec).items()}
        waiting = set(needs) & chosen
        done: set[str] = set()
        running: dict[Future[None], str] = {}
        pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="squall-up")
        try:
            while waiting or running:
                for name in sorted(waiting):
                    if needs[name] <= done:
                        service = self.spec.service(name)
                        assert service is not None
                        waiting.discard(name)
                        running[pool.submit(self._up_service, service)] = name
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
            self.cancelled.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _check_files(self) -> None:
        """A secret or config from a missing file fails before anything is made (the
        engine would bind an empty folder in its place).

        Raises:
            BackendError: the file of a secret or config a chosen service uses is absent.
        """
        used = {
            (kind, mount.source)
            for service in self.spec.services
            if service.name in self.chosen
            for kind, mounts in (("secret", service.secrets), ("config", service.configs))
            for mount in mounts
        }
        for kind, entries in (("secret", self.spec.secrets), ("config", self.spec.configs)):
            for entry in entries:
                if (kind, entry.name) in used and entry.file and not Path(entry.file).is_file():
                    raise BackendError(f"{kind} {entry.name!r}: file {entry.file} does not exist")

    def _ensure_volumes(self) -> None:
        project = self.spec.name
        for volume in used_volumes(self.spec):
            engine_name = naming.volume_name(project, volume)
            self.volume_names[volume.name] = engine_name
            if self._to_create("volume", volume.name, engine_name, volume.external):
                self.engine.create_volume(
                    engine_name,
                    driver=volume.driver,
                    labels=naming.volume_labels(project, volume.name, volume.labels),
                )

    def _ensure_networks(self) -> None:
        project = self.spec.name
        for network in used_networks(self.spec):
            engine_name = naming.network_name(project, network)
            self.network_names[network.name] = engine_name
            if self._to_create("network", network.name, engine_name, network.external):
                self.engine.create_network(
                    engine_name,
                    driver=network.driver,
                    subnets=network.subnets,
                    gateway=network.gateway,
                    internal=network.internal,
                    labels=naming.network_labels(project, network.name, network.labels),
                )

    def _to_create(self, kind: str, name: str, engine_name: str, external: bool) -> bool:
        """Whether a volume or network must be created (it is reused when it exists).

        Raises:
            BackendError: it is declared external but does not exist.
        """
        inspect = self.engine.inspect_volume if kind == "volume" else self.engine.inspect_network
        if inspect(engine_name) is not None:
            return False
        if external:
            raise BackendError(
                f"{kind} {engine_name!r} is declared external but does not exist; "
                f"create it with `docker {kind} create {engine_name}`"
            )
        self.progress.step(f"{kind} {name}", f"creating {engine_name}")
        return True

    def _ensure_images(self, *, build: bool) -> None:
        project = self.spec.name
        known: dict[str, str] = {}
        # Builds first: a service may run the image another one builds (`image:` on both).
        chosen = self.chosen
        ordered = sorted(
            (s for s in self.spec.services if s.name in chosen),
            key=lambda s: (s.build is None, s.name),
        )
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
                known[ref] = self._image_id(service, ref, build=build)
            self.images[service.name] = (ref, known[ref])

    def _image_id(self, service: ServiceSpec, ref: str, *, build: bool) -> str:
        image = self.engine.inspect_image(ref)
        if service.build is not None and (build or image is None):
            spec = service.build
            subject = service.name
            if not spec.context.is_dir():
                raise BackendError(
                    f"service {subject!r}: build context {spec.context} is not a directory",
                    service=subject,
                )
            self.progress.step(subject, f"building {ref} from {spec.context}")
            for line in self.engine.build(
                path=str(spec.context),
                tag=ref,
                dockerfile=spec.dockerfile,
                buildargs=spec.args,
                target=spec.target,
                labels={naming.PROJECT_LABEL: self.spec.name},
                subject=subject,
            ):
                self.progress.step(subject, line)
            image = self.engine.inspect_image(ref)
        if image is None:
            self.progress.step(service.name, f"pulling {ref}")
            try:
                for line in self.engine.pull(ref, service.name):
                    self.progress.step(service.name, line)
            except ImageMissing as exc:
                reason = exc.message.split("; ", 1)[-1]
                hint = f"{_image_hint(ref, service)} (engine: {reason[:200]})"
                raise ImageMissing(ref, service.name, hint=hint) from exc
            image = self.engine.inspect_image(ref)
            if image is None:
                raise ImageMissing(ref, service.name, hint=_image_hint(ref, service))
        return str(image["Id"])

    def _up_service(self, service: ServiceSpec) -> None:
        """Every replica of `service` (1..scale), then the extra ones a smaller scale
        leaves are removed (`pre_stop` hooks first), as Compose scales down."""
        for dependency in service.depends_on:
            self._wait_for(service, dependency)
        ref, image_id = self.images[service.name]
        current = self.existing.get(service.name, {})
        started: list[str] = []
        links = self._link_targets(service)
        wanted = self._numbers(service)
        for number in wanted:
            request = container_request(
                self.spec,
                service,
                image=ref,
                network_names=self.network_names,
                volume_names=self.volume_names,
                links=links,
                number=number,
            )
            if number == wanted[0]:
                for note in request.notes:
                    self.progress.step(service.name, note)
            started.append(self._up_replica(service, request, image_id, current.get(number)))
        for number in sorted(n for n in current if n not in wanted):
            self._remove(service, current[number], "scaling down: removing")
        self.started[service.name] = started

    def _numbers(self, service: ServiceSpec) -> tuple[int, ...]:
        if self.numbers is None:
            return tuple(range(1, service.scale + 1))
        return self.numbers.get(service.name, ())

    def _up_replica(
        self, service: ServiceSpec, request: ContainerRequest, image_id: str, current: JSON | None
    ) -> str:
        """One container: left alone when its config hash matches, else (re)created."""
        digest = naming.config_hash(request.hash_document(image_id))
        if current is not None and not self.force:
            labels = current.get("Labels") or {}
            # A container never started may lack networks: its `up` was interrupted.
            if labels.get(naming.HASH_LABEL) == digest and current.get("State") != "created":
                return self._ensure_running(service, current)
        if current is not None:
            self._remove(service, current, "recreating")
        return self._create_and_start(service, request, digest)

    def _remove(self, service: ServiceSpec, summary: JSON, why: str) -> None:
        """Remove a container of `service`, running its `pre_stop` hooks first."""
        self.progress.step(service.name, f"{why} {container_display_name(summary)}")
        if summary.get("State") == "running":
            hooks = stop_plan(summary.get("Labels") or {}).pre_stop
            run_hooks(self.engine, str(summary["Id"]), hooks, service.name, "pre_stop")
        self.engine.remove_container(str(summary["Id"]))

    def _create_and_start(
        self, service: ServiceSpec, request: ContainerRequest, digest: str
    ) -> str:
        progress = self.progress
        config = dict(request.config)
        config["Labels"] = {**config["Labels"], naming.HASH_LABEL: digest}
        progress.step(service.name, f"creating {request.name}")
        ident = self.engine.create_container(request.name, config, service.name)
        for attachment in request.connect:
            progress.step(service.name, f"joining network {attachment.network}")
            self.engine.connect(
                ident,
                attachment.engine_name,
                aliases=attachment.aliases,
                links=attachment.links,
                ipv4_address=attachment.ipv4_address,
                service=service.name,
            )
        if request.files:
            progress.step(service.name, f"writing {', '.join(f.target for f in request.files)}")
            self.engine.put_archive(ident, "/", archive(request.files), service.name)
        self._delay(service)
        progress.step(service.name, f"starting {request.name}")
        self._start(service, ident)
        return ident

    def _start(self, service: ServiceSpec, ident: str) -> None:
        """Start the container, then run its `post_start` hooks."""
        self.engine.start(ident, service.name)
        if service.settings.post_start:
            self.progress.step(service.name, "running post_start hooks")
            run_hooks(self.engine, ident, service.settings.post_start, service.name, "post_start")
        self.progress.step(service.name, "started", done=True)

    def _ensure_running(self, service: ServiceSpec, summary: JSON) -> str:
        ident = str(summary["Id"])
        state = str(summary.get("State") or "")
        if state == "running":
            self.progress.step(service.name, "up to date", done=True)
        elif state == "paused":
            self.progress.step(service.name, "unpausing")
            self.engine.unpause(ident, service.name)
        else:
            self._delay(service)
            self.progress.step(service.name, f"starting ({state})")
            self._start(service, ident)
        return ident

    def _delay(self, service: ServiceSpec) -> None:
        if service.start_delay > 0:
            self.progress.step(service.name, f"waiting {service.start_delay:g}s (start_delay)")
            self.pause(service.start_delay)

    def _link_targets(self, service: ServiceSpec) -> list[LinkTarget]:
        targets: list[LinkTarget] = []
        mine = [n.name for n in service_networks(service)]
        for link in service.links:
            linked = self.spec.service(link.service)
            idents = self.started.get(link.service)
            if linked is None or not idents:
                continue
            ident = idents[0]
            info = self.engine.inspect_container(ident) or {}
            attached = (info.get("NetworkSettings") or {}).get("Networks") or {}
            ip: str | None = None
            for name in mine:
                endpoint = attached.get(self.network_names.get(name, ""))
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

    def _wait_for(self, service: ServiceSpec, dependency: Dependency) -> None:
        key = (dependency.service, dependency.condition)
        if key in self.satisfied or dependency.condition == "service_started":
            return
        idents = self.started.get(dependency.service)
        if not idents and dependency.service not in self.chosen:
            self.progress.step(service.name, f"{dependency.service} is not running (--no-deps)")
            return
        if not idents:
            raise BackendError(
                f"service {service.name!r} depends on {dependency.service!r}, "
                "which was not started",
                service=service.name,
            )
        # Every replica, as Compose waits for each container of the dependency.
        for ident in idents:
            if dependency.condition == "service_healthy":
                self.progress.step(service.name, f"waiting for {dependency.service} to be healthy")
                self._wait_healthy(dependency.service, ident)
            else:
                self.progress.step(service.name, f"waiting for {dependency.service} to complete")
                self._wait_completed(dependency.service, ident)
        self.satisfied.add(key)

    def _wait_healthy(self, service: str, ident: str) -> None:
        info = self._inspect(service, ident)
        check = (info.get("Config") or {}).get("Healthcheck") or {}
        test = check.get("Test") or []
        if not test or test == ["NONE"]:
            raise BackendError(
                f"service {service!r} has no healthcheck, so nothing can wait for it to be "
                "healthy (add a healthcheck or use condition: service_started)",
                service=service,
            )
        timeout = self.waits.health or _health_budget(check)
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
            self.pause(POLL_INTERVAL)
            info = self._inspect(service, ident)

    def _wait_completed(self, service: str, ident: str) -> None:
        deadline = time.monotonic() + self.waits.completion
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
                    f"service {service!r} did not complete within {self.waits.completion:g}s",
                    service=service,
                )
            self.pause(POLL_INTERVAL)

    def _inspect(self, service: str, ident: str) -> JSON:
        info = self.engine.inspect_container(ident)
        if info is None:
            raise BackendError(f"the container of {service!r} disappeared", service=service)
        return info


class SerialProgress:
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


__all__ = ["SerialProgress", "UpRun"]
