"""Hostile clients against a real `squall serve`: big bodies, no token, slow or idle.

The server's memory is read from /proc (VmHWM, its peak resident size) around 64 MB
and 256 MB bodies sent over raw sockets, with and without a length, with and without
the token; slow and idle connections must be closed by the server itself.
"""

from __future__ import annotations

import select
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from squall.api._guard import BODY_SECONDS
from squall.api._server import HEAD_SECONDS
from tests.integration.api.conftest import Served, start_server, stop_server

pytestmark = pytest.mark.docker

MB = 1 << 20
GROWTH_LIMIT = 8 * MB
"""What hostile bodies may add to the server's peak memory: a few MB."""


def kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for pid {pid}")


@pytest.fixture(scope="module")
def server(served: Served) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A server of its own, so its peak memory is these tests' alone."""
    process, url = start_server(served.squall)
    try:
        yield process, url.split("/?", 1)[0]
    finally:
        stop_server(process)


def send(base: str, path: str, size: int, headers: dict[str, str], *, chunked: bool) -> str:
    """POST a `size`-byte body over a raw socket; the status line the server answered.

    Sending stops when the server answers or closes, as a client's would.
    """
    where = urlsplit(base)
    assert where.hostname is not None and where.port is not None
    lines = [f"POST {path} HTTP/1.1", f"Host: {where.hostname}", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}")
    piece = b"x" * MB
    if chunked:
        piece = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        sent = 0
        try:
            while sent < size and not select.select([sock], [], [], 0)[0]:
                sock.sendall(piece)
                sent += MB
            if chunked and sent >= size:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            answer = sock.recv(4096).decode("latin-1")
        except ConnectionResetError:
            answer = ""
    assert answer, f"no answer after {sent // MB} MB"
    return answer.split("\r\n", 1)[0]


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_big_bodies_without_the_token_are_401_unread(
    served: Served, server: tuple[subprocess.Popen[str], str], chunked: bool
) -> None:
    process, base = server
    before = kib(process.pid, "VmHWM")
    path = f"/api/clusters/{served.project}/shapes"
    for size in (64 * MB, 256 * MB):
        assert send(base, path, size, {}, chunked=chunked) == "HTTP/1.1 401 Unauthorized"
    grown = kib(process.pid, "VmHWM") - before
    assert grown < GROWTH_LIMIT, f"the server grew by {grown / MB:.1f} MB"


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_big_bodies_with_the_token_are_413_at_the_limit(
    served: Served, server: tuple[subprocess.Popen[str], str], chunked: bool
) -> None:
    process, base = server
    before = kib(process.pid, "VmHWM")
    auth = {"Authorization": f"Bearer {served.token}"}
    for path in (f"/api/clusters/{served.project}/shapes", f"/blockade/{served.project}/action"):
        for size in (64 * MB, 256 * MB):
            status = send(base, path, size, auth, chunked=chunked)
            assert status == "HTTP/1.1 413 Request Entity Too Large", status
    grown = kib(process.pid, "VmHWM") - before
    assert grown < GROWTH_LIMIT, f"the server grew by {grown / MB:.1f} MB"
    answer = httpx.get(f"{base}/api/clusters/{served.project}/status", timeout=30)
    assert answer.status_code == 200


def test_idle_and_slow_clients_are_cut_off(
    served: Served, server: tuple[subprocess.Popen[str], str]
) -> None:
    _, base = server
    where = urlsplit(base)
    address = (where.hostname or "", where.port or 0)
    idle = socket.create_connection(address, timeout=30)
    slow_head = socket.create_connection(address, timeout=30)
    slow_body = socket.create_connection(address, timeout=30)
    slow_body.sendall(
        f"POST /api/clusters/{served.project}/shapes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {served.token}\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n{".encode()
    )
    started = time.monotonic()
    closed: dict[str, float] = {}
    answers: dict[str, bytes] = {}
    sockets = {"idle": idle, "slow head": slow_head, "slow body": slow_body}
    try:
        while len(closed) < 3 and time.monotonic() - started < max(HEAD_SECONDS, BODY_SECONDS) + 5:
            if "slow head" not in closed:
                slow_head.sendall(b"G")  # a byte a second never finishes the head
            ready, _, _ = select.select(
                [s for n, s in sockets.items() if n not in closed], [], [], 1
            )
            for name, sock in sockets.items():
                if sock in ready:
                    data = sock.recv(4096)
                    answers[name] = answers.get(name, b"") + data
                    if not data:
                        closed[name] = time.monotonic() - started
    except (BrokenPipeError, ConnectionResetError):
        closed.setdefault("slow head", time.monotonic() - started)
    finally:
        for sock in sockets.values():
            sock.close()
    assert set(closed) == set(sockets), f"still open: {set(sockets) - set(closed)}"
    assert closed["idle"] < HEAD_SECONDS + 3 and closed["slow head"] < HEAD_SECONDS + 3
    assert answers["slow body"].startswith(b"HTTP/1.1 408"), answers["slow body"][:80]
    assert httpx.get(f"{base}/api/clusters/{served.project}", timeout=30).status_code == 200
