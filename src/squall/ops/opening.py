"""Which cluster a front end means, and the backend it runs on: found one way for all.

`-f FILE... -p NAME --backend B --profile P` on the command line, `Cluster(file,
project, backend)` in Python, `squall serve`'s context and the detached timer and chaos
processes all say the same things; `Where` holds them and `open_session` turns them
into a `Session`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from squall import events
from squall.atomic import write_atomic
from squall.errors import SpecError, StateError
from squall.ops.where import Where as Where  # re-exported: front ends name it from here
from squall.runtime.base import Backend
from squall.runtime.select import make_backend
from squall.runtime.swarm.record import load_hosts, save_hosts
from squall.session import ClusterRef, Session
from squall.spec.loader import find_cluster_file, load_cluster, load_project
from squall.spec.model import HostSpec
from squall.spec.project import checked_project_name
from squall.state import StateDir, default_state_root

Say = Callable[[str], None]
STORED_FILE = "cluster-file.yml"
"""A cluster created from a request's body (Blockade's `POST /blockade/NAME`) keeps its
file here, in its state directory, so `down` removes it with everything else."""


def _nothing_to_load(where: Where, need_file: bool) -> bool:
    """A command that can do without a file was given none, and none is in the folder."""
    if where.files or where.project is None or need_file:
        return False
    if not where.search:
        return True
    if "COMPOSE_FILE" in (where.environ if where.environ is not None else os.environ):
        return False
    cwd = where.cwd if where.cwd is not None else Path.cwd()
    try:
        find_cluster_file(where.project_directory or cwd)
    except SpecError:
        return True
    return False


def resolve_cluster(
    where: Where, *, need_file: bool = True, removing: bool = False, warn: Say | None = None
) -> ClusterRef:
    """Load the cluster's files (given, in merge order, or found as Compose finds them).

    Commands that only read or remove what exists (`status`, `down`, `logs`...) can run
    with `-p NAME` alone, from any directory, because backends find their objects by
    label; for those `need_file` is False and a missing file is not an error. With
    `removing` (`down -p NAME`), files that no longer load are not one either: `warn`
    is told, and the cluster is found by label.

    Raises:
        SpecError: the file is missing (when needed) or wrong.
        UsageError: a service named or scaled is not in the files; the project name
            has characters no name may have.
    """
    if _nothing_to_load(where, need_file):
        assert where.project is not None
        return ClusterRef(checked_project_name(where.project), None)
    try:
        spec = load_project(where.loading())
    except SpecError as exc:
        if not removing or where.project is None:
            raise
        if warn is not None:
            warn(f"warning: {exc}; going on with -p {where.project} (found by label)")
        return ClusterRef(checked_project_name(where.project), None)
    if warn is not None:
        for warning in spec.warnings:
            warn(f"warning: {warning}")
    return ClusterRef(spec.name, spec)


def open_backend(
    name: str,
    cluster: ClusterRef | None,
    *,
    notice: Say | None = None,
    log: Say | None = None,
    hosts: tuple[HostSpec, ...] = (),
) -> Backend:
    """The backend `cluster` runs on: `name` (--backend), else the file's `x-squall:
    backend`, else the one the project already lives on, else docker if an engine
    answers; `notice` is told which `auto` chose, `log` gets every kernel command.
    Without a cluster (a server for every cluster): `name`, else docker if it answers.
    With `hosts` (the file's, else those its last `up` recorded), all those engines."""
    spec = cluster.spec if cluster is not None else None
    preferred = spec.options.backend if spec is not None else None
    project = cluster.project if cluster is not None else None
    if spec is not None and spec.options.hosts:
        hosts = spec.options.hosts
    return make_backend(
        name, preferred=preferred, project=project, notice=notice, log=log, hosts=hosts
    )


def open_session(
    where: Where,
    *,
    need_file: bool = False,
    removing: bool = False,
    backend: Backend | None = None,
    actor: events.Actor | None = None,
    warn: Say | None = None,
    notice: Say | None = None,
    log: Say | None = None,
) -> Session:
    """A session on the cluster `where` names, with its backend unless one is given.

    Raises:
        SpecError: see `resolve_cluster`.
    """
    cluster = resolve_cluster(where, need_file=need_file, removing=removing, warn=warn)
    session_root = where.state_root if where.state_root is not None else default_state_root()
    state = StateDir(session_root, cluster.project)
    hosts = cluster.spec.options.hosts if cluster.spec is not None else ()
    if need_file and hosts:
        save_hosts(state.path, hosts)  # before anything is made: `down` finds every host
    if backend is None:
        recorded = () if hosts else load_hosts(state.path)
        backend = open_backend(where.backend, cluster, notice=notice, log=log, hosts=recorded)
    return Session.create(cluster, backend, where.state_root, log=log, actor=actor)


def detached_parser(module: str, description: str | None) -> argparse.ArgumentParser:
    """The command line of a detached process of one cluster (`python -m squall.expiry`,
    `python -m squall.watcher`): where its cluster is, and its pidfile."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--state-root", type=Path, required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--backend", required=True)
    parser.add_argument("--pidfile", type=Path, required=True)
    return parser


def detached_where(args: argparse.Namespace) -> Where:
    """The cluster a `detached_parser` command line names (found by name, no file)."""
    return Where(
        project=args.project, backend=args.backend, state_root=args.state_root, search=False
    )


def stored_file(state_root: Path, project: str) -> Path:
    """Where the file of a cluster created from a body lives (see `store_file`)."""
    return StateDir(state_root, project).path / STORED_FILE


def store_file(
    state_root: Path, project: str, text: bytes, environ: Mapping[str, str] | None = None
) -> Path:
    """Keep `text` (a blockade.yml or compose file, or either as JSON) as the cluster
    file of `project`, once it loads; a file that does not load is not kept.

    Raises:
        SpecError: `text` is not a cluster file (its line and field named).
        StateError: the state directory cannot be written.
    """
    state = StateDir(state_root, project)
    path = state.ensure() / STORED_FILE
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise StateError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        load_cluster(path, project=project, environ=environ)
    except SpecError:
        path.unlink(missing_ok=True)
        if not any(state.path.iterdir()):
            state.path.rmdir()
        raise
    return path


__all__ = [
    "STORED_FILE",
    "Where",
    "detached_parser",
    "detached_where",
    "open_backend",
    "open_session",
    "resolve_cluster",
    "store_file",
    "stored_file",
]
