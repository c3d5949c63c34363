"""The Docker backend: a `ClusterSpec` made real on the Docker Engine.

Two levels (as docker-py's `api/` and `models/`):

- `engine.DockerEngine`: one method per Engine API call, and the one place where SDK
  and transport errors become Squall errors;
- `DockerBackend` (here): clusters, services and networks, in terms of those calls.
  One `up` is an `up.UpRun`; what a service becomes is computed without the engine by
  `create`, names and labels by `naming`, what `status` shows by `status`.

Everything `up` creates is labelled `io.squall.project=<project>` in the very request
that creates it, so an `up` interrupted at any point (Ctrl-C) leaves only labelled
objects, and `down` finds them all from the engine, without the cluster file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TypeVar

from squall.errors import BackendError, ServiceNotFound
from squall.linux.procs import in_container
from squall.runtime.base import (
    Action,
    Backend,
    NetworkState,
    Progress,
    ServiceChange,
    ServiceState,
    Waits,
)
from squall.runtime.docker import naming, watch
from squall.runtime.docker.agent import call, ensure_agent, remove_agents
from squall.runtime.docker.engine import JSON, DockerEngine
from squall.runtime.docker.hooks import run_hooks, stop_plan
from squall.runtime.docker.status import container_display_name, numbered, service_state
from squall.runtime.docker.up import SerialProgress, UpRun
from squall.spec.model import ClusterSpec

T = TypeVar("T")
R = TypeVar("R")

WORKERS = 8


class DockerBackend(Backend):
    """Clusters on the Docker Engine. Contacts the engine only when first asked to.

    Args:
        engine: the low-level engine access (default: from `DOCKER_HOST`/the socket).
        waits: how long `stop`/`restart` and dependencies are waited for.
    """

    name = "docker"

    def __init__(self, engine: DockerEngine | None = None, waits: Waits | None = None) -> None:
        super().__init__(waits)
        self._engine = engine or DockerEngine()

    @property
    def engine(self) -> DockerEngine:
        return self._engine

    def close(self) -> None:
        self._engine.close()

    # -- up ------------------------------------------------------------------------------

    def _up(self, spec: ClusterSpec, build: bool, force: bool, progress: Progress) -> None:
        """Idempotent: a container whose create request (config, networks, image id) hashes
        to its `io.squall.config-hash` label is only started if it is not running;
        otherwise, or with `force`, it is recreated. Volumes and networks that exist are
        reused.

        Raises:
            EngineUnavailable: no engine answers.
            ImageMissing: an image is absent and cannot be pulled (nor built).
            BackendError: the engine refused something, an external network or volume
                is absent, or a dependency never became healthy / did not complete.
        """
        UpRun(self._engine, spec, progress, force=force, waits=self.waits).run(build=build)

    def _up_selected(
        self,
        spec: ClusterSpec,
        services: Sequence[str],
        build: bool,
        force: bool,
        progress: Progress,
    ) -> None:
        """Only `services`; the other services' containers are left as they are (a
        dependency not chosen, `--no-deps`, is not waited for unless it runs)."""
        only = frozenset(services)
        UpRun(self._engine, spec, progress, force=force, waits=self.waits, only=only).run(
            build=build
        )

    # -- down ----------------------------------------------------------------------------

    def _down(self, project: str, volumes: bool, images: bool, progress: Progress) -> None:
        self.remove_project(project, volumes=volumes, images=images, progress=progress)

    def remove_project(
        self,
        project: str,
        *,
        volumes: bool,
        images: bool,
        progress: Progress,
        networks: bool = True,
    ) -> None:
        """`down` on this engine (without `networks`: not its networks). Works without
        the cluster file. Containers are force-removed with their anonymous volumes;
        named volumes only with `volumes=True`; with `images=True` every image built for
        the project (found by label: the current ones and the untagged ones that
        rebuilds replaced). Everything that can be removed is;
        failures are reported together at the end.

        Raises:
            BackendError: something labelled with `project` could not be removed.
        """
        progress = SerialProgress(progress)
        labels = naming.project_filter(project)
        failures: list[str] = []

        def remove_container(summary: JSON) -> None:
            name = container_display_name(summary)
            plan = stop_plan(summary.get("Labels") or {})
            if plan.graceful and summary.get("State") == "running":
                service = (summary.get("Labels") or {}).get(naming.SERVICE_LABEL, name)
                progress.step(name, "stopping")
                try:
                    run_hooks(self._engine, str(summary["Id"]), plan.pre_stop, service, "pre_stop")
                finally:
                    self._engine.stop(str(summary["Id"]), self._grace(plan.grace), service)
            progress.step(name, "removing")
            self._engine.remove_container(str(summary["Id"]))

        failures += _each(remove_container, self._engine.containers(labels))

        def remove_network(summary: JSON) -> None:
            progress.step(f"network {summary['Name']}", "removing")
            self._engine.remove_network(str(summary["Id"]))

        if remove_agents(self._engine, project):
            progress.step(f"agent {project}", "removed")
        if networks:  # a Swarm worker may not remove the Swarm's networks: its manager does
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
        states = numbered(self.containers_status(project))
        return sorted(states, key=lambda s: (s.service, s.replica or 0, s.container))

    def containers_status(self, project: str) -> list[ServiceState]:
        """Each container of `project` on this engine, replicas numbered as labelled
        (`status` drops the number of a service's only container)."""
        labels = naming.project_filter(project)
        networks = self._cluster_network_names(project)
        summaries = self._engine.containers(labels)
        details = _parallel(lambda s: self._engine.inspect_container(str(s["Id"])), summaries)
        engine = self._engine.url
        return [
            _here(service_state(summary, info, networks), str(info.get("Id", "")), engine)
            for summary, info in zip(summaries, details, strict=True)
            if info is not None
        ]

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
        targets = [
            (name, summary) for name in services for summary in self._containers(project, name)
        ]
        for name, summary in targets:
            self._act_one(name, summary, action, signal)

    def _act_one(self, name: str, summary: JSON, action: Action, signal: str | None) -> None:
        """One container: hooks around start and stop, as in Compose."""
        engine = self._engine
        ident = str(summary["Id"])
        plan = stop_plan(summary.get("Labels") or {})
        running = summary.get("State") == "running"
        if action in (Action.STOP, Action.RESTART) and running:
            run_hooks(engine, ident, plan.pre_stop, name, "pre_stop")
        if action is Action.START:
            engine.start(ident, name)
        elif action is Action.STOP:
            engine.stop(ident, self._grace(plan.grace), name)
        elif action is Action.RESTART:
            engine.restart(ident, self._grace(plan.grace), name)
        elif action is Action.KILL:
            engine.kill(ident, signal, name)
        elif action is Action.PAUSE:
            engine.pause(ident, name)
        elif action is Action.UNPAUSE:
            engine.unpause(ident, name)
        else:  # pragma: no cover - Action is closed
            raise BackendError(f"unknown action {action!r}")
        if action is Action.RESTART or (action is Action.START and not running):
            run_hooks(engine, ident, plan.post_start, name, "post_start")

    def _grace(self, grace: int | None) -> int:
        """Seconds a stop waits: the service's `stop_grace_period`, else `waits.stop`."""
        return int(self.waits.stop) if grace is None else grace

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
        for summary in self._containers(project, service):
            labels = summary.get("Labels") or {}
            name = labels.get(naming.SERVICE_LABEL, service)
            self._engine.connect(
                str(summary["Id"]),
                engine_name,
                aliases=tuple(dict.fromkeys((name, *aliases))),
                service=service,
            )

    def disconnect(self, project: str, network: str, service: str) -> None:
        engine_name = self._network_engine_name(project, network)
        for summary in self._containers(project, service):
            self._engine.disconnect(str(summary["Id"]), engine_name, service)

    # -- the agent -----------------------------------------------------------------------

    def agent_call(self, project: str, host: str) -> Callable[[str], str]:
        """Requests to `project`'s agent on this engine (started on the first one)."""
        started: list[str] = []

        def send(request: str) -> str:
            if not started:
                started.append(ensure_agent(self._engine, project))
            return call(self._engine, started[0], request)

        return send

    # -- watching ------------------------------------------------------------------------

    watchable = True

    def watch(self, project: str, since: float | None = None) -> Iterator[ServiceChange]:
        """Starts of the project's containers and their network connects/disconnects,
        from the engine's event stream (network events are checked by an inspect)."""
        for event in self._engine.events(watch.FILTERS, since):
            change = watch.container_change(event, project)
            container = watch.network_container(event)
            if change is None and container is not None:
                info = self._engine.inspect_container(container) or {}
                change = watch.change_of(
                    (info.get("Config") or {}).get("Labels") or {}, project, event
                )
            if change is not None:
                yield change

    # -- helpers -------------------------------------------------------------------------

    def _container(self, project: str, service: str) -> JSON:
        """The one container `service` names: a replica (`api-2`) or the service's first."""
        return self._containers(project, service)[0]

    def _containers(self, project: str, service: str) -> list[JSON]:
        """The containers a name means: every replica of a service (`api`), in order, or
        one replica (`api-2`).

        Raises:
            ServiceNotFound: the project has no such service or replica.
        """
        containers = self._engine.containers(naming.project_filter(project))

        def labels(summary: JSON) -> dict[str, str]:
            return summary.get("Labels") or {}

        def number(summary: JSON) -> int:
            return naming.container_number(labels(summary)) or 1

        found = sorted(
            (c for c in containers if labels(c).get(naming.SERVICE_LABEL) == service), key=number
        )
        if not found:
            found = [
                c
                for c in containers
                if f"{labels(c).get(naming.SERVICE_LABEL)}-{number(c)}" == service
            ]
        if found:
            return found
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


def _here(state: ServiceState, ident: str, engine: str) -> ServiceState:
    """`state` as this machine may reach it: a container proved to run on this kernel
    (its engine on a socket of this machine, its pid's cgroup naming it) is entered
    directly; any other (an engine elsewhere, DOCKER_HOST=tcp://..., reports pids of its
    own) is reached through the agent on its engine."""
    if state.netns is None:
        return state
    if engine.startswith("unix://") and in_container(ident, state.pid):
        return state
    return replace(state, elsewhere=True, agent=engine)


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
