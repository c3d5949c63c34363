"""Create sockets inside another network namespace, then come home.

A socket belongs to the namespace it was created in for its whole life, so one process
can hold queue sockets in many namespaces and serve them from one loop. Python 3.11 has
no `os.setns`, hence libc through ctypes. Only the calling thread moves.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
from collections.abc import Iterator
from dataclasses import dataclass

CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.setns.argtypes = (ctypes.c_int, ctypes.c_int)
_libc.setns.restype = ctypes.c_int


def setns(fd: int, nstype: int = CLONE_NEWNET) -> None:
    """Move the calling thread into the namespace open at `fd`."""
    if _libc.setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@dataclass(frozen=True)
class NamespaceId:
    """Which namespace a path names now (device and inode of the nsfs file)."""

    dev: int
    ino: int


def identify(path: str) -> NamespaceId:
    """Raises OSError (FileNotFoundError...) when the namespace is gone."""
    st = os.stat(path)
    return NamespaceId(st.st_dev, st.st_ino)


@contextlib.contextmanager
def entered(path: str) -> Iterator[NamespaceId]:
    """Run the body inside the network namespace at `path`; always return home.

    Yields the namespace's identity as opened, so the caller can later tell whether the
    path still names the same namespace. Failing to return home is fatal for a process
    serving many namespaces, so that raises even over the body's own exception.
    """
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            st = os.fstat(target)
            setns(target)
        finally:
            os.close(target)
        try:
            yield NamespaceId(st.st_dev, st.st_ino)
        finally:
            setns(home)
    finally:
        os.close(home)


__all__ = ["CLONE_NEWNET", "NamespaceId", "entered", "identify", "setns"]
