"""Zones on one host (zones of services): the `wan:` round trip measured at `up`, one
link changed live, zones cut apart, every link cleared."""

from __future__ import annotations

from pathlib import Path

from tests.integration.cli_runner import SquallRunner
from tests.integration.multihost.cluster import SERVE, median_rtt, reaches


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
        assert 76.0 <= median_rtt(squall, "a", "b") <= 84.0
        assert 152.0 <= median_rtt(squall, "a", "c") <= 168.0
        assert median_rtt(squall, "b", "c", count=5) < 10.0  # no link between us and asia
        squall("wan", "eu", "us", "--rtt", "120ms")  # live
        assert 114.0 <= median_rtt(squall, "a", "b") <= 126.0
        squall("partition", "--zones", "eu", "us")
        assert not reaches(squall, "a", "b") and not reaches(squall, "b", "a")
        squall("join")
        squall("wan", "--clear")
        assert (
            median_rtt(squall, "a", "b", count=5) < 10.0
            and median_rtt(squall, "a", "c", count=5) < 10.0
        )
    finally:
        squall("down", check=False)
