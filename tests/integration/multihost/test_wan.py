"""Zones on one host (zones of services): the `wan:` round trip, measured at `up`."""

from __future__ import annotations

import re
from pathlib import Path

from tests.integration.cli_runner import SquallRunner
from tests.integration.multihost.cluster import SERVE

_RTT = re.compile(r"min/avg/max = [0-9.]+/([0-9.]+)/")


def _avg(squall: SquallRunner, source: str, target: str, count: int = 10) -> float:
    out = squall("exec", source, "--", "ping", "-c", str(count), "-i", "0.2", target).stdout
    found = _RTT.search(out)
    assert found, out
    return float(found.group(1))


def test_wan_round_trips_between_zones_on_one_host(
    tmp_path: Path, local_images: tuple[str, ...]
) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(
        "x-squall:\n"
        "  zones: {eu: [a], us: [b], asia: [c]}\n"
        "  wan:\n"
        "    eu-us: {rtt: 80ms}\n"
        "    eu-asia: {rtt: 160ms}\n"
        "services:\n"
        + "".join(f"  {n}: {{image: squall/busybox, command: {SERVE}}}\n" for n in "abc")
    )
    squall = SquallRunner(path, "mhwan", env={"SQUALL_STATE_DIR": str(tmp_path / "state")})
    try:
        squall("up")
        assert 76.0 <= _avg(squall, "a", "b") <= 84.0
        assert 152.0 <= _avg(squall, "a", "c") <= 168.0
        assert _avg(squall, "b", "c", count=5) < 10.0  # no link between us and asia
    finally:
        squall("down", check=False)
