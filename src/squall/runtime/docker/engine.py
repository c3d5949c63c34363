"""The low level of the Docker backend: one method per Engine API call.

Every call goes through `DockerEngine`, whose methods map 1:1 to Engine endpoints (via
the SDK's low-level `APIClient`, which is faster than its model layer: no extra inspect
after each create). It is the one place where `docker.errors` and `requests` errors
become Squall errors (`_translated`). Nothing here knows about clusters or specs.

The client is made on first use, never in the constructor; `DOCKER_HOST`,
`DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` are honoured as by the `docker` CLI.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import queue
import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import docker
import docker.errors
import docker.tls
import docker.utils.socket
import requests.exceptions
import urllib3.exceptions

from squall.errors import BackendError, EngineUnavailable, ImageMissing, SquallError
from squall.spec.model import TlsFiles

log = logging.getLogger("squall.docker")

JSON = dict[str, Any]
DEFAULT_HOST = "unix:///var/run/docker.sock"
API_TIMEOUT = 120.0
PULL_TIMEOUT = 30.0


class NotFound(Exception):
    """Internal: the object asked for does not exist (callers decide what that means)."""


def _engine_url() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def _is_unreachable(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.ConnectionError | ConnectionError):
        return True
    text = str(exc)
    return isinstance(exc, docker.errors.DockerException) and (
        "Error while fetching server API version" in text or "Connection refused" in text
    )


@contextlib.contextmanager
def _translated(what: str, service: str | None = None) -> Iterator[None]:
    """Turn SDK and transport errors raised inside the block into Squall errors (naming
    the service they concern, when there is one)."""
    if service:
        what = f"service {service!r}: {what}"
    try:
        yield
    except SquallError:
        raise
    except docker.errors.NotFound as exc:
        raise NotFound(_explain(exc)) from exc
    except docker.errors.BuildError as exc:
        raise BackendError(f"{what}: {exc.msg}", service=service) from exc
    except docker.errors.APIError as exc:
        raise BackendError(f"{what}: {_explain(exc)}", service=service) from exc
    except requests.exceptions.Timeout as exc:
        raise BackendError(
            f"{what}: the Docker Engine at {_engine_url()} did not answer in time ({exc})",
            service=service,
        ) from exc
    except (
        docker.errors.DockerException,
        requests.exceptions.RequestException,
        urllib3.exceptions.HTTPError,  # a stream cut mid-chunk (the engine going away)
        OSError,
    ) as exc:
        if _is_unreachable(exc):
            raise EngineUnavailable(
                f"cannot reach the Docker Engine at {_engine_url()}: {_short(exc)}"
            ) from exc
        raise BackendError(f"{what}: {exc}", service=service) from exc


def _inspected(what: str, call: Callable[[], Any]) -> JSON | None:
    """The engine's answer to an inspect, or None when there is no such object."""
    with _translated(what):
        try:
            return dict(call())
        except docker.errors.NotFound:
            return None


def _removed(what: str, call: Callable[[], Any]) -> None:
    """Remove something; that it is gone already is fine."""
    with _translated(what), contextlib.suppress(docker.errors.NotFound):
        call()


def _explain(exc: docker.errors.APIError | docker.errors.NotFound) -> str:
    explanation = getattr(exc, "explanation", None)
    if explanation:
        return str(explanation)
    return str(exc)


def _short(exc: BaseException) -> str:
    """The OS's reason inside the nested messages of requests and urllib3, if any."""
    text = str(exc)
    for pattern in (r"\[Errno \d+\] ([^'\")]+)", r"\(\d+, '([^']+)'\)"):
        found = re.search(pattern, text)
        if found:
            return found.group(1).strip()
    return text


def _tls_config(tls: TlsFiles | None) -> Any:
    """The SDK's TLS settings for an engine of `x-squall: hosts` (False: plain)."""
    if tls is None or not tls.enabled:
        return False
    cert = (tls.cert, tls.key) if tls.cert and tls.key else None
    with _translated("reading the engine's TLS files"):
        return docker.tls.TLSConfig(client_cert=cert, ca_cert=tls.ca, verify=tls.verify)


class DockerEngine:
    """Thin, typed access to one Docker Engine. Constructing it contacts nothing."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        timeout: float = API_TIMEOUT,
        tls: TlsFiles | None = None,
    ) -> None:
        self._base_url = base_url
        self._timeout = timeout
        self._tls = tls
        self._api: Any = None

    @property
    def url(self) -> str:
        return self._base_url or _engine_url()

    @property
    def api(self) -> Any:
        """The SDK's `APIClient`, made (and the engine's API version asked) on first use."""
        if self._api is None:
            with _translated("connecting to the Docker Engine"):
                if self._base_url:
                    self._api = docker.APIClient(
                        base_url=self._base_url,
                        version="auto",
                        timeout=self._timeout,
                        tls=_tls_config(self._tls),
                        use_ssh_client=self._base_url.startswith("ssh://"),
                    )
                else:
                    self._api = docker.from_env(version="auto", timeout=self._timeout).api
        return self._api

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None

    # -- engine --------------------------------------------------------------------------

    def ping(self) -> None:
        with _translated("pinging the Docker Engine"):
            self.api.ping()

    def info(self) -> JSON:
        with _translated("reading the engine's info"):
            return dict(self.api.info())

    def version(self) -> JSON:
        with _translated("reading the engine's version"):
            return dict(self.api.version())

    # -- swarm ---------------------------------------------------------------------------

    def inspect_swarm(self) -> JSON | None:
        """The Swarm as its manager sees it; None on a worker or outside a Swarm."""
        with _translated("inspecting the swarm"):
            try:
                return dict(self.api.inspect_swarm())
            except docker.errors.APIError as exc:
                if exc.status_code in (404, 406, 503):
                    return None
                raise

    def init_swarm(self, advertise_addr: str | None, labels: Mapping[str, str]) -> None:
        log.debug("POST /swarm/init advertise_addr=%s", advertise_addr)
        with _translated("making a swarm"):
            spec = self.api.create_swarm_spec(labels=dict(labels))
            self.api.init_swarm(
                advertise_addr=advertise_addr, listen_addr="0.0.0.0:2377", swarm_spec=spec
            )

    def join_swarm(self, managers: Sequence[str], token: str, advertise_addr: str | None) -> None:
        log.debug("POST /swarm/join remote=%s advertise_addr=%s", managers, advertise_addr)
        with _translated("joining the swarm"):
            self.api.join_swarm(
                list(managers), token, advertise_addr=advertise_addr, listen_addr="0.0.0.0:2377"
            )

    def leave_swarm(self) -> None:
        """Leave (forced); an engine in no Swarm is left as it is."""
        log.debug("POST /swarm/leave force=true")
        with _translated("leaving the swarm"):
            try:
                self.api.leave_swarm(force=True)
            except docker.errors.APIError as exc:
                if exc.status_code != 503:
                    raise

    # -- images --------------------------------------------------------------------------

    def inspect_image(self, ref: str) -> JSON | None:
        return _inspected(f"inspecting image {ref}", lambda: self.api.inspect_image(ref))

    def images(self, labels: Sequence[str]) -> list[JSON]:
        """Every image (tagged or dangling) carrying all of `labels` (`k=v` or `k`)."""
        with _translated("listing images"):
            return [dict(i) for i in self.api.images(filters={"label": list(labels)})]

    def image_exists(self, ref: str) -> bool:
        return self.inspect_image(ref) is not None

    def pull(self, ref: str, service: str | None = None) -> Iterator[str]:
        """Pull `ref` once (no retries); yields the engine's status lines.

        The engine streams progress while a pull is alive; when it says nothing for
        `PULL_TIMEOUT` seconds (a registry that swallows packets), the pull is given up.

        Raises:
            ImageMissing: the engine could not pull it; `hint` holds the engine's reason.
        """
        repository, tag = _split_ref(ref)
        log.debug("POST /images/create fromImage=%s tag=%s", repository, tag)
        messages: queue.Queue[tuple[str, object]] = queue.Queue()

        def consume() -> None:
            try:
                with _translated(f"pulling {ref}", service):
                    for raw in self.api.pull(repository, tag=tag, stream=True, decode=True):
                        messages.put(("message", raw))
                messages.put(("end", None))
            except BaseException as exc:  # handed to the caller's thread
                messages.put(("error", exc))

        threading.Thread(target=consume, name=f"pull {ref}", daemon=True).start()
        while True:
            try:
                kind, value = messages.get(timeout=PULL_TIMEOUT)
            except queue.Empty:
                raise ImageMissing(
                    ref, service, hint=f"the engine said nothing for {PULL_TIMEOUT:g}s"
                ) from None
            if kind == "end":
                return
            if kind == "error":
                assert isinstance(value, BaseException)
                raise _pull_failure(value, ref, service)
            line = _pull_line(value, ref, service)
            if line is not None:
                yield line

    def build(
        self,
        *,
        path: str,
        tag: str,
        dockerfile: str,
        buildargs: Mapping[str, str],
        target: str | None,
        labels: Mapping[str, str],
        subject: str,
    ) -> Iterator[str]:
        """Build from a directory; yields the build's output, line by line."""
        with _translated(f"building {tag}", subject):
            stream = self.api.build(
                path=path,
                tag=tag,
                dockerfile=dockerfile,
                buildargs=dict(buildargs),
                target=target,
                labels=dict(labels),
                rm=True,
                forcerm=True,
                decode=True,
            )
            yield from _build_lines(stream, tag, subject)

    def build_from_context(self, context: bytes, *, tag: str, subject: str) -> Iterator[str]:
        """Build from an in-memory tar holding a Dockerfile and its files."""
        with _translated(f"building {tag}", subject):
            stream = self.api.build(
                fileobj=io.BytesIO(context),
                custom_context=True,
                tag=tag,
                rm=True,
                forcerm=True,
                decode=True,
            )
            yield from _build_lines(stream, tag, subject)

    def import_image(self, data: Iterable[bytes], ref: str, *, changes: Sequence[str]) -> None:
        """`docker import -`: stream a root filesystem tar into a new image."""
        repository, tag = _split_ref(ref)
        with _translated(f"importing {ref}"):
            result = self.api.import_image_from_data(
                data, repository=repository, tag=tag, changes=list(changes)
            )
        for line in str(result).splitlines():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("error"):
                raise BackendError(f"importing {ref}: {message['error']}")

    def remove_image(self, ref: str, *, force: bool = True) -> None:
        _removed(f"removing image {ref}", lambda: self.api.remove_image(ref, force=force))

    # -- events --------------------------------------------------------------------------

    def events(self, filters: Mapping[str, Sequence[str]], since: float | None) -> Iterator[JSON]:
        """`GET /events` from `since` on (None: from now), decoded; runs until the engine
        closes the stream, then raises (the stream never ends while the engine is up)."""
        with _translated("following the engine's events"):
            # The engine reads `S.N` as seconds and N nanoseconds: always nine digits.
            start = None if since is None else f"{since:.9f}"
            stream = self.api.events(since=start, filters=dict(filters), decode=True)
            try:
                for event in stream:
                    yield dict(event)
            finally:
                stream.close()
        raise EngineUnavailable(f"the Docker Engine at {_engine_url()} closed its event stream")

    # -- containers ----------------------------------------------------------------------

    def containers(self, labels: Sequence[str]) -> list[JSON]:
        """Every container (running or not) carrying all of `labels` (`k=v` or `k`)."""
        with _translated("listing containers"):
            return [dict(c) for c in self.api.containers(all=True, filters={"label": list(labels)})]

    def inspect_container(self, ident: str) -> JSON | None:
        return _inspected(
            f"inspecting container {ident}", lambda: self.api.inspect_container(ident)
        )

    def create_container(self, name: str, config: JSON, service: str | None = None) -> str:
        """`POST /containers/create` with a raw Engine API config; returns the id."""
        log.debug("POST /containers/create name=%s", name)
        with _translated(f"creating container {name}", service):
            result = self.api.create_container_from_config(config, name=name)
        return str(result["Id"])

    def start(self, ident: str, service: str | None = None) -> None:
        log.debug("POST /containers/%s/start", ident)
        with _translated(f"starting {ident[:12]}", service):
            self.api.start(ident)

    def stop(self, ident: str, timeout: int | None = 10, service: str | None = None) -> None:
        """`timeout` None: the container's own (`StopTimeout`, else the engine's 10 s)."""
        with _translated(f"stopping {ident[:12]}", service):
            self.api.stop(ident, timeout=timeout)

    def put_archive(self, ident: str, path: str, data: bytes, service: str | None = None) -> None:
        """Unpack the tar `data` at `path` inside the container (`PUT .../archive`)."""
        log.debug("PUT /containers/%s/archive path=%s", ident, path)
        with _translated(f"copying files into {ident[:12]}", service):
            self.api.put_archive(ident, path, data)

    def restart(self, ident: str, timeout: int = 10, service: str | None = None) -> None:
        with _translated(f"restarting {ident[:12]}", service):
            self.api.restart(ident, timeout=timeout)

    def kill(self, ident: str, signal: str | None = None, service: str | None = None) -> None:
        with _translated(f"killing {ident[:12]}", service):
            self.api.kill(ident, signal=signal)

    def pause(self, ident: str, service: str | None = None) -> None:
        with _translated(f"pausing {ident[:12]}", service):
            self.api.pause(ident)

    def unpause(self, ident: str, service: str | None = None) -> None:
        with _translated(f"unpausing {ident[:12]}", service):
            self.api.unpause(ident)

    def remove_container(self, ident: str) -> None:
        """Force-remove with its anonymous volumes; absent already is fine."""
        log.debug("DELETE /containers/%s?force=1&v=1", ident)
        with _translated(f"removing container {ident}"):
            try:
                self.api.remove_container(ident, force=True, v=True)
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as exc:
                if "already in progress" in _explain(exc):
                    return
                raise

    def logs(self, ident: str, *, follow: bool, tail: int | None) -> Iterator[bytes]:
        with _translated(f"reading logs of {ident}"):
            stream = self.api.logs(
                ident,
                stream=True,
                follow=follow,
                tail="all" if tail is None else tail,
            )
            yield from stream

    def exec_create(
        self,
        ident: str,
        argv: Sequence[str],
        *,
        tty: bool,
        stdin: bool,
        user: str | None = None,
        privileged: bool = False,
        working_dir: str | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> str:
        with _translated(f"exec in {ident}"):
            result = self.api.exec_create(
                ident,
                list(argv),
                tty=tty,
                stdin=stdin,
                stdout=True,
                stderr=True,
                user=user or "",
                privileged=privileged,
                workdir=working_dir,
                environment=dict(environment) if environment else None,
            )
        return str(result["Id"])

    def exec_stream(
        self, exec_id: str, *, tty: bool
    ) -> Iterator[tuple[bytes | None, bytes | None]]:
        """Output of an exec as (stdout, stderr) chunks; one of each pair is None."""
        with _translated(f"exec {exec_id}"):
            stream = self.api.exec_start(exec_id, tty=tty, stream=True, demux=True)
            yield from stream

    def exec_socket(self, exec_id: str) -> Any:
        with _translated(f"exec {exec_id}"):
            return self.api.exec_start(exec_id, tty=True, socket=True)

    def exec_with_input(self, exec_id: str, data: bytes) -> tuple[bytes, bytes]:
        """Start an exec created with `stdin=True`, give it `data` then end of file, and
        return all it wrote (stdout, stderr) once it ends."""
        log.debug("POST /exec/%s/start (stdin: %d bytes)", exec_id, len(data))
        with _translated(f"exec {exec_id}"):
            sock = self.api.exec_start(exec_id, tty=False, socket=True)
            raw = getattr(sock, "_sock", sock)
            try:
                raw.sendall(data)
                raw.shutdown(socket.SHUT_WR)
                frames = (
                    docker.utils.socket.demux_adaptor(*frame)
                    for frame in docker.utils.socket.frames_iter(sock, tty=False)
                )
                out, err = docker.utils.socket.consume_socket_output(frames, demux=True)
            finally:
                sock.close()
        return out or b"", err or b""

    def save_image(self, ref: str) -> Iterator[bytes]:
        """The image as a `docker save` tar stream."""
        log.debug("GET /images/%s/get", ref)
        with _translated(f"saving image {ref}"):
            yield from self.api.get_image(ref)

    def load_image(self, data: Iterable[bytes]) -> None:
        """`docker load` of a `docker save` tar stream."""
        log.debug("POST /images/load")
        with _translated("loading an image"):
            for _line in self.api.load_image(data):
                pass

    def exec_exit_code(self, exec_id: str) -> int | None:
        with _translated(f"exec {exec_id}"):
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        return None if code is None else int(code)

    # -- networks ------------------------------------------------------------------------

    def networks(self, labels: Sequence[str]) -> list[JSON]:
        with _translated("listing networks"):
            return [dict(n) for n in self.api.networks(filters={"label": list(labels)})]

    def inspect_network(self, ident: str) -> JSON | None:
        return _inspected(f"inspecting network {ident}", lambda: self.api.inspect_network(ident))

    def create_network(
        self,
        name: str,
        *,
        driver: str,
        subnets: Sequence[str],
        gateway: str | None,
        internal: bool,
        labels: Mapping[str, str],
        attachable: bool = False,
    ) -> str:
        ipam = None
        if subnets:
            pools: list[JSON] = []
            for index, subnet in enumerate(subnets):
                pool: JSON = {"Subnet": subnet}
                if gateway and index == 0:
                    pool["Gateway"] = gateway
                pools.append(pool)
            ipam = {"Driver": "default", "Config": pools, "Options": {}}
        log.debug("POST /networks/create name=%s driver=%s ipam=%s", name, driver, ipam)
        with _translated(f"creating network {name}"):
            result = self.api.create_network(
                name,
                driver=driver,
                ipam=ipam,
                internal=internal,
                labels=dict(labels),
                check_duplicate=True,
                attachable=attachable or None,
            )
        return str(result["Id"])

    def remove_network(self, ident: str) -> None:
        log.debug("DELETE /networks/%s", ident)
        _removed(f"removing network {ident}", lambda: self.api.remove_network(ident))

    def connect(
        self,
        container: str,
        network: str,
        *,
        aliases: Sequence[str] = (),
        links: Sequence[str] = (),
        ipv4_address: str | None = None,
        service: str | None = None,
    ) -> None:
        log.debug("POST /networks/%s/connect container=%s", network, container)
        with _translated(f"connecting {container} to {network}", service):
            self.api.connect_container_to_network(
                container,
                network,
                aliases=list(aliases) or None,
                links=[tuple(link.split(":", 1)) for link in links] or None,
                ipv4_address=ipv4_address,
            )

    def disconnect(self, container: str, network: str, service: str | None = None) -> None:
        with _translated(f"disconnecting {container} from {network}", service):
            self.api.disconnect_container_from_network(container, network, force=True)

    # -- volumes -------------------------------------------------------------------------

    def volumes(self, labels: Sequence[str]) -> list[JSON]:
        with _translated("listing volumes"):
            result = self.api.volumes(filters={"label": list(labels)})
        return [dict(v) for v in (result or {}).get("Volumes") or []]

    def inspect_volume(self, name: str) -> JSON | None:
        return _inspected(f"inspecting volume {name}", lambda: self.api.inspect_volume(name))

    def create_volume(self, name: str, *, driver: str, labels: Mapping[str, str]) -> None:
        log.debug("POST /volumes/create name=%s", name)
        with _translated(f"creating volume {name}"):
            self.api.create_volume(name, driver=driver, labels=dict(labels))

    def remove_volume(self, name: str) -> None:
        log.debug("DELETE /volumes/%s", name)
        _removed(f"removing volume {name}", lambda: self.api.remove_volume(name, force=True))


def _pull_failure(exc: BaseException, ref: str, service: str | None) -> BaseException:
    """What a pull that failed in the SDK raises: the engine's reason as an ImageMissing
    hint, unless no engine answered at all."""
    if isinstance(exc, EngineUnavailable | ImageMissing):
        return exc
    if isinstance(exc, SquallError | NotFound):
        missing = ImageMissing(ref, service, hint=str(exc))
        missing.__cause__ = exc
        return missing
    return exc


def _pull_line(message: object, ref: str, service: str | None) -> str | None:
    """One status line of a pull's progress stream (None for progress bars).

    Raises:
        ImageMissing: the message is the engine's error.
    """
    if not isinstance(message, Mapping):
        return None
    if message.get("error"):
        raise ImageMissing(ref, service, hint=str(message["error"]))
    status = message.get("status")
    if not status or message.get("progressDetail"):
        return None
    layer = message.get("id")
    return f"{layer}: {status}" if layer else str(status)


def _split_ref(ref: str) -> tuple[str, str]:
    """`name[:tag]` -> (name, tag); digests and registry ports are kept whole."""
    if "@" in ref:
        return ref, ""
    head, _, last = ref.rpartition("/")
    if ":" in last:
        name, tag = last.rsplit(":", 1)
        return (f"{head}/{name}" if head else name), tag
    return ref, "latest"


def _build_lines(stream: Iterable[Any], tag: str, subject: str) -> Iterator[str]:
    for chunk in stream:
        if not isinstance(chunk, Mapping):
            continue
        if chunk.get("error"):
            detail = chunk.get("errorDetail") or {}
            message = detail.get("message") if isinstance(detail, Mapping) else None
            raise BackendError(f"building {tag}: {message or chunk['error']}", service=subject)
        text = chunk.get("stream")
        if isinstance(text, str):
            for line in text.splitlines():
                if line.strip():
                    yield line.rstrip()
