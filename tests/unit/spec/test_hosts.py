"""`x-squall: hosts`, zones, wan and placement: read, checked, and spread over hosts."""

from __future__ import annotations

import pytest

from squall.errors import UsageError
from squall.spec.hosts import parse_host_flag, place, split_pair, with_hosts, zone_of
from squall.spec.model import TlsFiles, WanLink

from .conftest import Project
from .test_errors import assert_error

FILE = """
x-squall:
  hosts:
    h1: {engine: "unix:///var/run/docker.sock"}
    h2: {engine: "ssh://ops@10.0.0.2"}
    h3: {engine: "tcp://10.0.0.3:2376", tls: {ca: ca.pem, cert: c.pem, key: k.pem}, agent: always}
  zones: {eu: [h1, h2], us: [h3]}
  wan:
    eu-us: {rtt: 80ms, jitter: 5ms, loss: 0.1%, rate: 200mbit}
services:
  db:
    image: squall/busybox
    x-squall: {host: h3}
  web:
    image: squall/busybox
    deploy: {placement: {constraints: ["node.hostname == h2"]}}
  api:
    image: squall/busybox
    deploy: {replicas: 3}
"""


def test_hosts_zones_and_wan_are_read(project: Project) -> None:
    spec = project.load(FILE)
    h1, h2, h3 = spec.options.hosts
    assert (h1.name, h1.engine, h1.reach, h1.agent) == (
        "h1",
        "unix:///var/run/docker.sock",
        None,
        "auto",
    )
    assert (h2.reach, h3.reach, h3.agent) == ("10.0.0.2", "10.0.0.3", "always")
    assert h3.tls == TlsFiles(
        ca=str(project.dir / "ca.pem"),
        cert=str(project.dir / "c.pem"),
        key=str(project.dir / "k.pem"),
    )
    assert dict(spec.options.zones) == {"eu": ("h1", "h2"), "us": ("h3",)}
    (link,) = spec.options.wan
    assert (link.zones, link.rtt, link.jitter, link.loss, link.rate) == (
        ("eu", "us"),
        "80ms",
        "5ms",
        "0.1%",
        "200mbit",
    )
    assert link == WanLink(("eu", "us"), "80ms", "5ms", "0.1%", "200mbit", link.location)


def test_placement_from_x_squall_or_constraints_and_replicas_spread(project: Project) -> None:
    spec = project.load(FILE)
    db, web, api = (spec.service(n) for n in ("db", "web", "api"))
    assert db is not None and web is not None and api is not None
    assert (db.host, web.host, api.host) == ("h3", "h2", None)
    placement = place(spec)
    assert [placement.host_of("api", n) for n in (1, 2, 3)] == ["h1", "h2", "h3"]
    assert placement.host_of("db") == "h3" and placement.host_of("web") == "h2"
    assert placement.on("h3") == {"api": (3,), "db": (1,)}
    assert zone_of(spec, "db", "h3") == "us" and zone_of(spec, "api", "h1") == "eu"


def test_a_single_host_file_has_no_hosts_and_no_placement(project: Project) -> None:
    spec = project.load("services: {a: {image: squall/busybox}}")
    assert spec.options.hosts == () and place(spec).hosts == {}


def test_host_flags_add_and_override(project: Project) -> None:
    spec = with_hosts(project.load(FILE), ["h3=tcp://10.9.9.9:2376", "h4=unix:///run/e.sock"])
    names = [h.name for h in spec.options.hosts]
    assert names == ["h1", "h2", "h3", "h4"]
    h3 = spec.options.hosts[2]
    assert h3.engine == "tcp://10.9.9.9:2376" and h3.agent == "always" and h3.tls is not None


@pytest.mark.parametrize(
    ("flag", "part"),
    [
        ("h2", "expected NAME=URL"),
        ("=tcp://x:1", "expected NAME=URL"),
        ("h 2=tcp://x:1", "invalid host name"),
        ("h2=ftp://x", "expected unix://"),
        ("h2=tcp://:2375", "needs a host name"),
        ("h2=tcp://x:port", "the port is not a number"),
        ("h2=unix://relative", "needs a socket path"),
    ],
)
def test_bad_host_flags_are_one_line(flag: str, part: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_host_flag(flag)
    assert part in str(caught.value) and "\n" not in str(caught.value)


def test_wan_keys_split_at_the_dash_that_names_two_zones() -> None:
    zones = {"eu-west": (), "us": (), "eu": ()}
    assert split_pair("eu-west-us", zones) == ("eu-west", "us")
    assert split_pair("eu-us", zones) == ("eu", "us")
    assert split_pair("eu-eu", zones) is None and split_pair("asia-us", zones) is None


@pytest.mark.parametrize(
    ("old", "new", "field", "part"),
    [
        ("{host: h3}", "{host: h9}", "services.db.x-squall.host", "unknown host 'h9'"),
        ("tcp://10.0.0.3:2376", "tcp://:2376", "x-squall.hosts.h3.engine", "needs a host name"),
        ("agent: always", "agent: never", "x-squall.hosts.h3.agent", "unknown agent mode"),
        ("eu-us:", "eu-asia:", "x-squall.wan.eu-asia", "names no two zones"),
        ("rtt: 80ms", "rtt: 80", "x-squall.wan.eu-us.rtt", "needs a unit"),
        ("loss: 0.1%", "loss: 120%", "x-squall.wan.eu-us.loss", "between 0% and 100%"),
        ("us: [h3]", "us: [h7]", "x-squall.zones.us", "neither a host nor a service"),
        ("us: [h3]", "us: [h2]", "x-squall.zones.us", "is in zones 'eu' and 'us'"),
        ("== h2", "== h8", "services.web.x-squall.host", "unknown host 'h8'"),
    ],
)
def test_mistakes_are_one_line_naming_the_field(
    project: Project, old: str, new: str, field: str, part: str
) -> None:
    assert old in FILE
    error = project.error(FILE.replace(old, new))
    assert_error(error, str(project.dir / "compose.yaml"), field, part)


def test_two_placements_that_disagree_are_refused(project: Project) -> None:
    text = FILE.replace(
        "x-squall: {host: h3}",
        "x-squall: {host: h3}\n    deploy: {placement: {constraints: ['node.hostname == h1']}}",
    )
    error = project.error(text)
    assert "name different hosts" in str(error)


def test_other_constraints_are_named_in_a_warning(project: Project) -> None:
    spec = project.load(FILE.replace("node.hostname == h2", "node.role == manager"))
    assert any("node.role == manager" in w or "constraint not acted on" in w for w in spec.warnings)
    web = spec.service("web")
    assert web is not None and web.host is None


def test_a_host_without_engine_is_refused(project: Project) -> None:
    error = project.error(
        FILE.replace('h2: {engine: "ssh://ops@10.0.0.2"}', "h2: {address: 10.0.0.2}")
    )
    assert_error(error, str(project.dir / "compose.yaml"), "x-squall.hosts.h2", "needs 'engine'")
