"""Zones on one host (zones of services): the `wan:` round trip measured at `up`, one
link changed live, zones cut apart, every link cleared."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

from tests.integration.cli_runner import SquallRunner
from tests.integration.multihost.cluster import SERVE

_TIME = re.compile(r"time=([0-9.]+) ms")


def _avg(squall: SquallRunner, source: str, target: str, count: int = 10) -> float:
    out = squall("exec", source, "--", "ping", "-c", str(count), "-i", "0.2", target).stdout
    times = [float(t) for t in _TIME.findall(out)]
    assert len(times) >= count // 2, out
    return statistics.median(times)


def _reaches(squall: SquallRunner, source: str, target: str) -> bool:
    result = squall("exec", source, "--", "ping", "-c", "1", "-W", "1", target, check=False)
    return result.returncode == 0


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
        squall("wan", "eu", "us", "--rtt", "120ms")  # live
        assert 114.0 <= _avg(squall, "a", "b") <= 126.0
        squall("partition", "--zones", "eu", "us")
        assert not _reaches(squall, "a", "b") and not _reaches(squall, "b", "a")
        squall("join")
        squall("wan", "--clear")
        assert _avg(squall, "a", "b", count=5) < 10.0 and _avg(squall, "a", "c", count=5) < 10.0
    finally:
        squall("down", check=False)
