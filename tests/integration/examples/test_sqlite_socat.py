"""The seed's technique 2: sqlite3 behind two socats, reached on the published port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import EXAMPLES

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _query(port: int, sql: bytes, expect: bytes, timeout: float = 20) -> bytes:
    """Send `sql` through the proxy; retry until the server side is up."""
    deadline = time.monotonic() + timeout
    seen = b""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as conn:
                conn.sendall(sql)
                seen = b""
                while expect not in seen:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    seen += chunk
                if expect in seen:
                    return seen
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"never read {expect!r} through port {port}; last read {seen!r}")


def test_select_through_the_proxy_then_switch_to_live(squall_example, tmp_path: Path) -> None:
    example = tmp_path / "sqlite-socat"
    shutil.copytree(EXAMPLES / "sqlite-socat", example)
    dbs = tmp_path / "dbs"
    subprocess.run(
        [str(example / "setup_dbs.sh")],
        check=True,
        env={"SQLITE_DBS": str(dbs), "PATH": "/usr/bin:/bin"},
    )
    port = _free_port()
    squall = squall_example(
        "sqlite-socat/compose.yaml",
        BASE_IMAGE="squall/debian:bookworm",
        SQLITE_DBS=str(dbs),
        PROXY_PORT=str(port),
    )
    squall.file = example / "compose.yaml"
    squall("up", "--build")

    assert b"test" in _query(port, b"select * from t1;\n", b"test")

    compose = squall.file.read_text()
    squall.file.write_text(compose.replace("/test:/opt/sqlite/db", "/live:/opt/sqlite/db"))
    squall("up")
    assert b"live" in _query(port, b"select * from t1;\n", b"live")
