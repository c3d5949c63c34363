"""The top-level `x-squall:` block: options for Squall itself inside a compose file.

`backend` and `presets` are read here, `hosts`, `zones` and `wan` by `hosts.py`; the
whole block is kept in `SquallOptions.raw` for options that later layers define.
"""

from __future__ import annotations

from pathlib import Path

from squall.spec.hosts import read_hosts, read_wan, read_zones
from squall.spec.keys import SQUALL_PRESETS
from squall.spec.model import FaultPresets, SquallOptions
from squall.spec.node import Node, suggestion

BACKENDS = ("auto", "docker", "netns")


def squall_options(node: Node | None, warnings: list[str], project_dir: Path) -> SquallOptions:
    """Raises: SpecError for an unknown backend, preset or host, or a wrong type."""
    if node is None:
        return SquallOptions()
    entries = node.optional_mapping()
    backend = None
    if "backend" in entries and entries["backend"].value is not None:
        backend = entries["backend"].text()
        if backend not in BACKENDS:
            hint = suggestion(backend, BACKENDS)
            entries["backend"].fail(f"unknown backend {backend!r} (auto, docker or netns){hint}")
    presets = FaultPresets()
    if "presets" in entries:
        presets = read_presets(SQUALL_PRESETS.entries(entries["presets"], warnings))
    raw = node.plain()
    zones = read_zones(entries.get("zones"))
    return SquallOptions(
        backend=backend,
        presets=presets,
        hosts=read_hosts(entries.get("hosts"), project_dir, warnings),
        zones=zones,
        zones_location=entries["zones"].key_location if "zones" in entries else None,
        wan=read_wan(entries.get("wan"), zones, warnings),
        raw=raw if isinstance(raw, dict) else {},
    )


def read_presets(entries: dict[str, Node]) -> FaultPresets:
    """Presets as written, each defaulting to Blockade's value."""
    defaults = FaultPresets()
    return FaultPresets(
        slow=entries["slow"].text() if "slow" in entries else defaults.slow,
        flaky=entries["flaky"].text() if "flaky" in entries else defaults.flaky,
        duplicate=entries["duplicate"].text() if "duplicate" in entries else defaults.duplicate,
    )
