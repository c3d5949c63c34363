"""`wan:` links become two shapes each: half the round trip each way, between zones."""

from __future__ import annotations

from pathlib import Path

from squall.ops.wan import wan_requests, zone_members
from squall.spec import load_cluster

FILE = """
x-squall:
  hosts:
    h1: {engine: "unix:///var/run/docker.sock"}
    h2: {engine: "tcp://10.0.0.2:2375"}
  zones: {eu: [h1, edge], us: [h2], asia: [c]}
  wan:
    eu-us: {rtt: 80ms, jitter: 5ms, loss: 0.1%, rate: 200mbit}
    eu-asia: {rtt: 161ms}
services:
  a: {image: squall/busybox, x-squall: {host: h1}}
  b: {image: squall/busybox, x-squall: {host: h2}}
  c: {image: squall/busybox, x-squall: {host: h2}}
  edge: {image: squall/busybox, x-squall: {host: h2}}
"""


def test_zones_hold_services_by_name_or_by_host(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(FILE)
    spec = load_cluster(tmp_path / "compose.yaml")
    assert zone_members(spec) == {"eu": ("a", "edge"), "us": ("b",), "asia": ("c",)}


def test_each_link_is_half_the_round_trip_each_way(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(FILE)
    requests = wan_requests(load_cluster(tmp_path / "compose.yaml"))
    seen = [(r.targets.services, dict(r.fields), r.origin) for r in requests]
    wan = {"jitter": "2.5ms", "loss": "0.1%", "rate": "200mbit"}
    assert seen == [
        (("a", "edge"), {"delay": "80.5ms", "to": ("c",)}, "wan"),
        (("c",), {"delay": "80.5ms", "to": ("a", "edge")}, "wan"),
        (("a", "edge"), {"delay": "40ms", "to": ("b",), **wan}, "wan"),
        (("b",), {"delay": "40ms", "to": ("a", "edge"), **wan}, "wan"),
    ]
