"""Hostile files stop at stated limits with the usual one-line error, in little memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from squall.errors import SpecError
from squall.spec import load_cluster
from squall.spec.blockade import MAX_COUNT
from squall.spec.yaml import DEFAULT_LIMITS

MEMORY = 100 * 1024 * 1024


def laughs(levels: int) -> str:
    lines = ['  a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels + 1):
        lines.append(f"  a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]")
    return "services:\n  x: {image: busybox}\nx-laughs:\n" + "\n".join(lines) + "\n"


CASES = {
    "billion-laughs": (laughs(9), "YAML aliases expand to more than"),
    "flow-nesting": ("services: " + "[" * 500 + "]" * 500 + "\n", "nest deeper than 64 levels"),
    "map-nesting": (
        "services:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(300)),
        "nest deeper than 64 levels",
    ),
    "long-string": (
        "services:\n  x:\n    image: " + "a" * (DEFAULT_LIMITS.string_chars + 1) + "\n",
        "a string of more than",
    ),
    "big-file": ("services: {}\n" + "#" * 80 + "\n" * 20_000 + "x: " + "a" * 2_000_000, "bytes"),
    "many-values": (
        "services:\n  x: {image: busybox}\nx-many: [" + "1," * 110_000 + "1]\n",
        "more than 100000 values",
    ),
    "self-alias": ("services: &s\n  x: *s\n", "refers to itself"),
    "undefined-alias": ("services:\n  x: *nowhere\n", "is not defined"),
    "unknown-tag": ("services:\n  x: !!python/object:os.system {}\n", "is not supported"),
    "count-negative": ("containers:\n  c: {image: busybox, count: -3}\n", "-3 is out of range"),
    "count-huge": (
        "containers:\n  c: {image: busybox, count: 1000000000}\n",
        f"out of range (1 to {MAX_COUNT})",
    ),
    "two-documents": ("services: {}\n---\nservices: {}\n", "one YAML document"),
}


@pytest.mark.timeout(20)
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_file_is_one_line_error_in_bounded_memory(tmp_path: Path, case: str) -> None:
    text, message = CASES[case]
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    tracemalloc.start()
    try:
        with pytest.raises(SpecError) as caught:
            load_cluster(path, environ={})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    error = str(caught.value)
    assert error.startswith(f"{path}:") and "\n" not in error, error
    assert message in error, error
    assert peak < MEMORY, f"{peak / 2**20:.0f} MiB"


def test_anchors_reused_by_many_services_stay_within_the_alias_budget(tmp_path: Path) -> None:
    services = "".join(f"  s{i}:\n    <<: *common\n" for i in range(200))
    path = tmp_path / "compose.yaml"
    path.write_text(
        "x-common: &common\n  image: busybox\n  environment: {A: '1', B: '2', C: '3'}\n"
        "  labels: [a=1, b=2]\nservices:\n" + services
    )
    spec = load_cluster(path, environ={})
    assert len(spec.services) == 200
    assert spec.services[0].environment == {"A": "1", "B": "2", "C": "3"}
