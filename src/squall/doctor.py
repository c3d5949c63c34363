"""What this host can do, and which path Squall will take for each fault kind."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from squall.errors import SquallError
from squall.faults.kernel import kernel_caps

TOOLS = ("ip", "tc", "iptables", "iptables-restore", "iptables-save", "nsenter")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True
    """False for what Squall can do without (netem: the userspace shaper stands in)."""


@dataclass(frozen=True)
class Diagnosis:
    checks: tuple[Check, ...]
    paths: dict[str, str] = field(default_factory=dict)
    """Fault kind -> mechanism on this host."""

    @property
    def ok(self) -> bool:
        return all(c.ok or not c.required for c in self.checks)


def diagnose(caps_dir: Path) -> Diagnosis:
    # The Docker SDK (with requests) is a fifth of every command's start-up: import it
    # when the doctor runs, not whenever the CLI loads.
    from squall.runtime.docker.engine import DockerEngine

    checks = [Check("root", os.geteuid() == 0, f"euid {os.geteuid()}")]
    engine = DockerEngine()
    try:
        version = engine.info().get("ServerVersion", "?")
        checks.append(Check("docker", True, f"engine {version} at {engine.url}"))
    except SquallError as exc:
        checks.append(Check("docker", False, str(exc)))
    finally:
        engine.close()
    for tool in TOOLS:
        where = shutil.which(tool)
        checks.append(Check(tool, where is not None, where or "not installed"))
    paths: dict[str, str] = {}
    try:
        caps = kernel_caps(caps_dir, refresh=True)
    except SquallError as exc:
        checks.append(Check("kernel probe", False, str(exc)))
    else:
        for name in ("netem", "htb", "tbf", "ifb", "mirred", "nfqueue", "statistic", "conntrack"):
            present = bool(getattr(caps, name))
            detail = "present" if present else "absent"
            if name == "netem" and not present:
                detail += ": delay/jitter/duplicate/corrupt/reorder use the userspace shaper"
            checks.append(Check(name, present, detail, required=name != "netem"))
        checks.append(
            Check("iptables backend", caps.iptables_backend is not None, str(caps.iptables_backend))
        )
        paths = caps.paths()
    return Diagnosis(tuple(checks), paths)
