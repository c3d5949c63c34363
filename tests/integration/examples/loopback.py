"""Talking to a cluster's published port on 127.0.0.1, as a telnet user would."""

from __future__ import annotations

import socket
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def type_until(port: int, typed: bytes, expect: bytes, timeout: float = 30) -> bytes:
    """Send `typed`, read until `expect`; retry while the proxy has no server behind it yet."""
    deadline = time.monotonic() + timeout
    seen = b""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as conn:
                conn.sendall(typed)
                seen = b""
                while expect not in seen and (chunk := conn.recv(4096)):
                    seen += chunk
                if expect in seen:
                    return seen
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"never read {expect!r} on port {port}; last read {seen!r}")
