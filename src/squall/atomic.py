"""Replace a file all at once, for files other processes read while it is rewritten.

Configs, reports and pidfiles in the state directory are read by another process (the
shaper, the netns supervisor, the CLI) at any moment: a reader must see the old file
or the new one, never half of one, and two writers must never share a temporary file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

DEFAULT_MODE = 0o644


def write_atomic(path: Path, data: str | bytes, *, mode: int = DEFAULT_MODE) -> None:
    """Write `data` to a temporary file of a unique name beside `path`, flush it to disk
    (fsync), then rename it over `path`.

    Raises:
        OSError: the directory is missing or not writable (nothing is left behind).
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


__all__ = ["write_atomic"]
