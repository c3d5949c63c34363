"""pytest plugin: a cluster for the test session, faults healed after every test.

Enabled by installing Squall (entry point `pytest11`); `-p no:squall` turns it off.

    # pytest.ini / pyproject [tool.pytest.ini_options]
    squall_file = compose.yaml          # relative to the ini file
    squall_project = kvtest             # optional: the cluster's name

    def test_survives_partition(squall):          # a squall.Cluster, up
        with squall.partitioned(["primary"], ["replica"]):
            ...

    @pytest.mark.squall(file="other.yaml")       # another cluster for these tests
    def test_other(squall): ...

Fixtures:
- `squall_cluster` (session): the ini's cluster, brought up once, taken down at the
  end of the session (unless `squall_keep = true` or `--squall-keep`).
- `squall` (function): the cluster of the `squall` marker, or the ini's; after the test
  every partition is healed, all shaping removed, and stopped or paused services
  started again. Its changes are logged as `who: pytest, run: <test id>`.
When a test that used `squall` fails, its report gets a "squall events" section: every
change to the cluster while it ran (its own, a chaos run's, anyone's).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from squall import events as event_log
from squall.cluster import Cluster
from squall.events import Actor

_TAIL = pytest.StashKey[event_log.Tail]()
_SEEN = pytest.StashKey[list[event_log.Event]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("squall_file", "Cluster file for the `squall` fixtures (relative to the ini).")
    parser.addini("squall_project", "Cluster name for the `squall` fixtures (default: the file's).")
    parser.addini(
        "squall_keep", "Leave the clusters up after the session.", type="bool", default=False
    )
    group = parser.getgroup("squall")
    group.addoption(
        "--squall-keep", action="store_true", help="Leave Squall clusters up after the session."
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "squall(file=None, project=None): the cluster the `squall` fixture brings up "
        "(file relative to the test module)",
    )


class SquallClusters:
    """The clusters of a test session, each up once, all down at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._clusters: dict[tuple[Path, str | None], Cluster] = {}

    def ini_file(self) -> Path | None:
        value = str(self.config.getini("squall_file") or "")
        if not value:
            return None
        base = self.config.inipath.parent if self.config.inipath else self.config.rootpath
        return (base / value).resolve()

    def ini_project(self) -> str | None:
        return str(self.config.getini("squall_project") or "") or None

    def get(self, file: Path, project: str | None) -> Cluster:
        key = (file, project)
        if key not in self._clusters:
            cluster = Cluster(file, project=project, actor=Actor("pytest"))
            self._clusters[key] = cluster
            cluster.up()
        return self._clusters[key]

    def close(self) -> None:
        keep = bool(self.config.getini("squall_keep")) or bool(self.config.getoption("squall_keep"))
        errors: list[BaseException] = []
        for cluster in self._clusters.values():
            try:
                cluster.session.actor = Actor("pytest")
                if not keep:
                    cluster.down()
            except Exception as exc:  # every cluster goes down even if one fails
                errors.append(exc)
            finally:
                cluster.close()
        self._clusters.clear()
        if errors:
            raise errors[0]


@pytest.fixture(scope="session")
def squall_clusters(pytestconfig: pytest.Config) -> Iterator[SquallClusters]:
    clusters = SquallClusters(pytestconfig)
    try:
        yield clusters
    finally:
        clusters.close()


@pytest.fixture(scope="session")
def squall_cluster(squall_clusters: SquallClusters) -> Cluster:
    """The cluster named by the `squall_file` ini option, up for the whole session."""
    file = squall_clusters.ini_file()
    if file is None:
        raise pytest.UsageError("the squall_cluster fixture needs `squall_file` in the ini")
    return squall_clusters.get(file, squall_clusters.ini_project())


@pytest.fixture
def squall(request: pytest.FixtureRequest, squall_clusters: SquallClusters) -> Iterator[Cluster]:
    """The test's cluster (marker, else ini), healed of every fault after the test."""
    marker = request.node.get_closest_marker("squall")
    file = squall_clusters.ini_file()
    project = squall_clusters.ini_project()
    if marker is not None:
        given = marker.kwargs.get("file") or (marker.args[0] if marker.args else None)
        if given is not None:
            file = (request.path.parent / str(given)).resolve()
            project = None
        project = marker.kwargs.get("project", project)
    if file is None:
        raise pytest.UsageError(
            "the squall fixture needs `squall_file` in the ini or @pytest.mark.squall(file=...)"
        )
    cluster = squall_clusters.get(file, project)
    cluster.session.actor = Actor("pytest", run=request.node.nodeid)
    request.node.stash[_TAIL] = event_log.Tail.at_end(cluster.session.events_path())
    request.node.stash[_SEEN] = []
    try:
        yield cluster
    finally:
        cluster.heal()
        cluster.session.actor = Actor("pytest")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    tail = item.stash.get(_TAIL, None)
    if tail is None:
        return report
    seen = item.stash[_SEEN]
    seen.extend(tail.poll())
    if report.failed and report.when == "call":
        text = "\n".join(e.describe() for e in seen) or "(no changes while the test ran)"
        report.sections.append(("squall events", text))
    return report
