"""What every lane service runs: a TCP echo server (port 7000) and a TCP sink (7001).

The sink answers, once the sender shuts its side, with the bytes it received and the
seconds from their first to their last byte, so throughput is measured where it lands.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

ECHO_PORT = 7000
SINK_PORT = 7001


def echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def sink(conn: socket.socket) -> None:
    with conn:
        got, first = 0, 0.0
        while data := conn.recv(65536):
            if not got:
                first = time.monotonic()
            got += len(data)
        conn.sendall(f"{got} {time.monotonic() - first if got else 0.0}".encode())


def serve(port: int, handler: Callable[[socket.socket], None]) -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(16)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    threading.Thread(target=serve, args=(ECHO_PORT, echo), daemon=True).start()
    serve(SINK_PORT, sink)
