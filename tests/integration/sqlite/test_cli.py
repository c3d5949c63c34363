"""The click commands, run as `python -m squall.sqlite ...`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import squall.sqlite
from tests.integration.sqlite.conftest import CLICK_SERVE, SRC, start_server


def _run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "squall.sqlite", *args],
        input=stdin,
        capture_output=True,
        env=dict(os.environ, PYTHONPATH=str(SRC)),
        timeout=30,
        check=False,
    )


def test_serve_command(tmp_path: Path) -> None:
    server = start_server(tmp_path / "db", "--max-rows", "10", command=CLICK_SERVE)
    try:
        with squall.sqlite.connect("127.0.0.1", server.port) as db:
            db.execute("CREATE TABLE t(x)")
        assert server.terminate() == 0
    finally:
        if server.process.poll() is None:
            server.kill()


def test_serve_errors_are_one_line(tmp_path: Path) -> None:
    bad = _run("serve", "--db", str(tmp_path / "db"), "--statement-timeout", "soon")
    assert bad.returncode == 1
    assert bad.stderr == b"Error: not a duration: 'soon' (examples: 5s, 250ms, 1m)\n"
    missing = _run("serve", "--db", str(tmp_path / "none"), "--read-only")
    assert missing.returncode == 1 and b"does not exist" in missing.stderr


def test_shell_command(tmp_path: Path) -> None:
    server = start_server(tmp_path / "db")
    try:
        script = (
            b"create table t(a, b);\ninsert into t values (1, 'x'),\n(2, NULL);\n"
            b".headers on\nselect * from t;\nselec;\n.quit\n"
        )
        done = _run("shell", f"127.0.0.1:{server.port}", stdin=script)
        assert done.returncode == 0, done.stderr
        assert done.stdout == b'a|b\n1|x\n2|\nError: near "selec": syntax error\n'
        refused = _run("shell", "127.0.0.1:1")
        assert refused.returncode == 1 and refused.stderr.startswith(b"Error: cannot connect")
    finally:
        server.kill()


def test_shell_with_a_token_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    server = start_server(tmp_path / "db", "--token-file", str(token))
    try:
        done = _run(
            "shell", f"127.0.0.1:{server.port}", "--token-file", str(token), stdin=b"select 7;\n"
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == b"7\n"
        (tmp_path / "wrong").write_text("nope\n")
        refused = _run("shell", f"127.0.0.1:{server.port}", "--token-file", str(tmp_path / "wrong"))
        assert refused.returncode == 1 and b"authentication failed" in refused.stderr
    finally:
        server.kill()
