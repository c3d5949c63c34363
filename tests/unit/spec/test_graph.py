"""Start order from depends_on and links."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from squall.errors import Location, SpecError
from squall.spec import ClusterSpec, Dependency, Link, ServiceSpec, start_order
from squall.spec.graph import needed

HERE = Location(Path("compose.yaml"), 1)


def cluster(*services: ServiceSpec) -> ClusterSpec:
    return ClusterSpec("c", Path("compose.yaml"), "compose", tuple(services))


def service(name: str, *needs: str, links: tuple[str, ...] = ()) -> ServiceSpec:
    return ServiceSpec(
        name,
        HERE,
        image="x",
        depends_on=tuple(Dependency(n) for n in needs),
        links=tuple(Link(n, n) for n in links),
    )


def test_levels_are_sorted_and_follow_dependencies() -> None:
    spec = cluster(
        service("web", "api", links=("cache",)),
        service("api", "db", "cache"),
        service("db"),
        service("cache"),
        service("worker", "db"),
    )
    assert start_order(spec) == [["cache", "db"], ["api", "worker"], ["web"]]


def test_no_services() -> None:
    assert start_order(cluster()) == []


def test_cycle_is_an_error() -> None:
    spec = cluster(service("a", "b"), service("b", links=("a",)))
    with pytest.raises(SpecError, match=r"dependency cycle: a -> b -> a"):
        start_order(spec)


def test_start_order_of_a_loaded_file(tmp_path: Path) -> None:
    from squall.spec import load_cluster

    path = tmp_path / "compose.yaml"
    path.write_text(
        "services:\n"
        "  web: {image: x, depends_on: [db]}\n"
        "  db: {image: x}\n"
        "  side: {image: x, network_mode: 'service:web'}\n"
    )
    assert start_order(load_cluster(path, environ={})) == [["db"], ["web"], ["side"]]


def test_up_some_services_brings_what_they_need_unless_no_deps() -> None:
    side = dataclasses.replace(service("side"), network_mode="service:proxy")
    spec = cluster(
        service("web", "api", links=("cache",)),
        service("api", "db"),
        service("db"),
        service("cache"),
        service("proxy"),
        service("worker", "db"),
        side,
    )
    assert needed(spec, ["web"]) == ["api", "cache", "db", "web"]
    assert needed(spec, ["web"], dependencies=False) == ["web"]
    assert needed(spec, ["side", "worker"]) == ["db", "proxy", "side", "worker"]
