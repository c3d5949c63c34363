"""The seed's technique 2: sqlite3 behind two socats, reached on the published port."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.examples.conftest import ExampleFactory

from .conftest import EXAMPLES
from .loopback import free_port, type_until

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def test_select_through_the_proxy_then_switch_to_live(
    squall_example: ExampleFactory, tmp_path: Path
) -> None:
    example = tmp_path / "sqlite-socat"
    shutil.copytree(EXAMPLES / "sqlite-socat", example)
    dbs = tmp_path / "dbs"
    subprocess.run(
        [str(example / "setup_dbs.sh")],
        check=True,
        env={"SQLITE_DBS": str(dbs), "PATH": "/usr/bin:/bin"},
    )
    port = free_port()
    squall = squall_example(
        "sqlite-socat/compose.yaml",
        BASE_IMAGE="squall/debian:bookworm",
        SQLITE_DBS=str(dbs),
        PROXY_PORT=str(port),
    )
    squall.file = example / "compose.yaml"
    squall("up", "--build")

    assert b"test" in type_until(port, b"select * from t1;\n", b"test")

    compose = squall.file.read_text()
    squall.file.write_text(compose.replace("/test:/opt/sqlite/db", "/live:/opt/sqlite/db"))
    squall("up")
    assert b"live" in type_until(port, b"select * from t1;\n", b"live")
