"""The seed's topology with Squall's SQLite server: telnet-style session and the client."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

import squall.sqlite
from tests.integration.cli_runner import SquallRunner
from tests.integration.examples.conftest import ExampleFactory

from .conftest import EXAMPLES
from .loopback import free_port, type_until

pytestmark = [pytest.mark.integration, pytest.mark.docker]


@dataclass
class SqliteExample:
    """The example, copied with its databases under the test's folder, up."""

    cluster: SquallRunner
    dbs: Path
    port: int


def start_example(squall_example: Callable[..., SquallRunner], tmp_path: Path) -> SqliteExample:
    """Copy the example (and a link to src/, which it mounts), make its databases, up."""
    example = tmp_path / "examples" / "sqlite-server"
    shutil.copytree(EXAMPLES / "sqlite-server", example)
    (tmp_path / "src").symlink_to(EXAMPLES.parent / "src")
    dbs = tmp_path / "dbs"
    subprocess.run(
        [str(example / "setup_dbs.sh")],
        check=True,
        env={"SQLITE_DBS": str(dbs), "PATH": "/usr/bin:/bin"},
    )
    port = free_port()
    cluster = squall_example(
        "sqlite-server/compose.yaml", SQLITE_DBS=str(dbs), PROXY_PORT=str(port)
    )
    cluster.file = example / "compose.yaml"
    cluster("up")
    return SqliteExample(cluster, dbs, port)


def test_seed_session_through_proxy_then_switch(
    squall_example: ExampleFactory, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    example = start_example(squall_example, tmp_path)
    cluster, dbs, port = example.cluster, example.dbs, example.port

    out = type_until(port, b"select * from t1;\r\n", b"test\n")
    assert b"sqlite> test\n" in out

    with squall.sqlite.connect("127.0.0.1", port) as db:
        db.execute("INSERT INTO t1 VALUES (?)", ["from python"])
        assert [r[0] for r in db.execute("SELECT c1 FROM t1 ORDER BY rowid").rows] == [
            "test",
            "from python",
        ]

    compose = cluster.file.read_text()
    cluster.file.write_text(compose.replace("/test:/opt/sqlite", "/live:/opt/sqlite"))
    cluster("up")
    assert b"live" in type_until(port, b"select * from t1;\r\n", b"live")

    cluster("stop", "server")
    server = docker_client.containers.get(f"{cluster.project}-server-1")
    assert server.attrs["State"]["ExitCode"] == 0, "SIGTERM: finish, checkpoint, exit 0"
    assert not (dbs / "live" / "db-wal").exists() or (dbs / "live" / "db-wal").stat().st_size == 0


def test_statements_wait_out_delay_and_partition_and_land_once(
    squall_example: ExampleFactory, tmp_path: Path
) -> None:
    example = start_example(squall_example, tmp_path)
    cluster, port = example.cluster, example.port
    type_until(port, b"select * from t1;\r\n", b"test\n")  # the proxy reaches the server

    with squall.sqlite.connect("127.0.0.1", port) as db:
        cluster("shape", "proxy", "--delay", "200ms", "--to", "server")
        started = time.monotonic()
        assert db.execute("SELECT count(*) FROM t1").rows == [(1,)]
        assert time.monotonic() - started >= 0.2
        cluster("fast", "proxy")

        cluster("partition", "proxy", "server")
        done: list[float] = []
        writer = threading.Thread(
            target=lambda: done.append(
                db.execute("INSERT INTO t1 VALUES ('in partition')").rowcount
            )
        )
        writer.start()
        writer.join(3)
        assert writer.is_alive() and not done  # waits: no error, no answer
        cluster("join")
        writer.join(60)  # TCP retransmits once the link is back (back-off: seconds)
        assert done == [1]
        rows = db.execute("SELECT c1 FROM t1 ORDER BY rowid").rows
        assert [r[0] for r in rows] == ["test", "in partition"]  # exactly once
