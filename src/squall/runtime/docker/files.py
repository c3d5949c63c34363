"""Secrets and configs on the Docker backend, mounted as Compose mounts them without
Swarm. Pure: no engine, no I/O.

A `file:` source is bind-mounted read-only at its target (`/run/secrets/<name>` for a
secret, `/<name>` for a config, unless the entry gives `target`). An `environment:` or
`content:` source has no file on the host: its text is written into the container
after create, before start (a tar the engine unpacks at `/`, which makes the missing
folders), with the entry's `mode` (default 0444) and owner. `external` ones exist only
in a Swarm, so they are named in a note and not mounted.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass

from squall.errors import BackendError
from squall.spec.model import ClusterSpec, FileMount, FileSpec, ServiceSpec

DEFAULT_MODE = 0o444


@dataclass(frozen=True)
class InjectedFile:
    """A file written into a container before it starts."""

    target: str
    content: bytes
    mode: int = DEFAULT_MODE
    uid: int = 0
    gid: int = 0

    def digest(self) -> str:
        """What the config hash holds instead of the content (a changed secret recreates
        the container; its text is never written into a label)."""
        text = f"{self.target}:{self.mode:o}:{self.uid}:{self.gid}:"
        return hashlib.sha256(text.encode() + self.content).hexdigest()


@dataclass(frozen=True)
class FileMounts:
    binds: tuple[str, ...] = ()
    files: tuple[InjectedFile, ...] = ()
    notes: tuple[str, ...] = ()
    """What is not done as written, one line each."""


def file_mounts(spec: ClusterSpec, service: ServiceSpec) -> FileMounts:
    """The binds and injected files of `service`'s secrets and configs.

    Raises:
        BackendError: a `uid`/`gid` that is not a number.
    """
    binds: list[str] = []
    files: list[InjectedFile] = []
    notes: list[str] = []
    for kind, declared, used in (
        ("secret", spec.secrets, service.secrets),
        ("config", spec.configs, service.configs),
    ):
        by_name = {entry.name: entry for entry in declared}
        for mount in used:
            source = by_name.get(mount.source)
            if source is None:
                raise BackendError(
                    f"service {service.name!r}: {kind} {mount.source!r} is not declared",
                    service=service.name,
                )
            if source.external:
                notes.append(
                    f"{kind} {mount.source!r} is external, which only a Swarm holds: "
                    f"{mount.target} is not mounted"
                )
            elif source.file is not None:
                binds.append(f"{source.file}:{mount.target}:ro")
                if (mount.uid, mount.gid, mount.mode) != (None, None, None):
                    notes.append(
                        f"{kind} {mount.source!r}: uid, gid and mode do not apply to a file "
                        f"bind-mounted at {mount.target} (it keeps the host file's, as in "
                        "Compose)"
                    )
            else:
                files.append(_injected(service, kind, source, mount))
    return FileMounts(tuple(binds), tuple(files), tuple(notes))


def archive(files: Sequence[InjectedFile]) -> bytes:
    """A tar of `files` to unpack at `/` (paths relative, owners and modes as given)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in files:
            info = tarfile.TarInfo(item.target.lstrip("/"))
            info.size = len(item.content)
            info.mode = item.mode
            info.uid, info.gid = item.uid, item.gid
            tar.addfile(info, io.BytesIO(item.content))
    return buffer.getvalue()


def _injected(service: ServiceSpec, kind: str, source: FileSpec, mount: FileMount) -> InjectedFile:
    text = source.content if source.content is not None else source.value or ""
    return InjectedFile(
        target=mount.target,
        content=text.encode(),
        mode=DEFAULT_MODE if mount.mode is None else mount.mode,
        uid=_number(service, kind, "uid", mount.uid),
        gid=_number(service, kind, "gid", mount.gid),
    )


def _number(service: ServiceSpec, kind: str, field: str, value: str | None) -> int:
    if value is None:
        return 0
    if not value.isdigit():
        raise BackendError(
            f"service {service.name!r}: {kind} {field} {value!r} must be a number",
            service=service.name,
        )
    return int(value)


__all__ = ["FileMounts", "InjectedFile", "archive", "file_mounts"]
