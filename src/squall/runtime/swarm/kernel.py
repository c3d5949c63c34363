"""Whether an engine runs on this machine's kernel, proved from one of its containers.

A pid the engine reports means a process of this kernel only if `/proc/<pid>/cgroup`
here names that very container's id: an engine elsewhere may well report a pid that
exists here too, for another process. Only a proved container's namespace may be
entered directly (`/proc/<pid>/ns/net`); anything else goes through the agent.
"""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")


def runs_here(container_id: str, pid: int | None, proc: Path = PROC) -> bool:
    """True when process `pid` of this kernel belongs to container `container_id`."""
    if not pid or len(container_id) < 12:
        return False
    try:
        text = (proc / str(pid) / "cgroup").read_text()
    except OSError:
        return False
    return container_id in text
