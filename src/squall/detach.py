"""Start a process that outlives the command which started it.

The shaper, the netns supervisor, `--duration` timers and detached chaos runs all need
the same thing: their own session (Ctrl-C on the CLI must not reach them), no stdin,
output appended to a log in the state directory, no inherited descriptors.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def start_detached(
    argv: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` detached, stdout and stderr appended to `log_path`.

    Raises:
        OSError: it could not be started (the caller names what it was).
    """
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
