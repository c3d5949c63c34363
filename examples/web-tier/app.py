"""The two tiers of the web-tier example, standard library only.

`app.py db` answers `PING <token>` on TCP 7000 with `PONG`, if the token is the one
in its /run/secrets/db_token. `app.py api` serves HTTP on 8000 and asks db on every
request: 200 with db's answer, or 503 when db cannot be reached.
"""

from __future__ import annotations

import http.server
import os
import socket
import socketserver
import sys
from pathlib import Path

TOKEN = Path("/run/secrets/db_token")


def serve_db() -> None:
    token = TOKEN.read_text().strip()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:
                word, _, given = line.decode().strip().partition(" ")
                ok = word == "PING" and given == token
                self.wfile.write(b"PONG\n" if ok else b"DENIED\n")

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer(("", 7000), Handler) as server:
        server.serve_forever()


def ask_db() -> str:
    host, _, port = os.environ.get("DB_ADDR", "db:7000").partition(":")
    with socket.create_connection((host, int(port)), timeout=2) as conn:
        conn.sendall(f"PING {TOKEN.read_text().strip()}\n".encode())
        return conn.makefile().readline().strip()


def serve_api() -> None:
    greeting = os.environ.get("GREETING", "hello")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                status, text = 200, f"{greeting}; db says {ask_db()}"
            except OSError as exc:
                status, text = 503, f"db unreachable: {exc}"
            body = f"{socket.gethostname()} {text}\n".encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with http.server.ThreadingHTTPServer(("", 8000), Handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    {"db": serve_db, "api": serve_api}[sys.argv[1]]()
