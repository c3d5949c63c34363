"""A tiny primary/replica key-value store with asynchronous replication.

Real enough to lose writes: the primary acknowledges a SET as soon as it holds it in
memory, and ships it to the replica afterwards, in the background. Cut the two apart,
keep writing, lose the primary and promote the replica: every write acknowledged
during the partition is gone. (Many real systems ship with this default.)

One line per request and per reply, over TCP port 7000:

    SET key value  -> OK            (primary)   | ERR read-only (replica)
    GET key        -> VALUE value | NONE
    COUNT          -> COUNT n
    ROLE           -> ROLE primary|replica
    PROMOTE        -> OK            the replica becomes the primary
    RESET          -> OK            forget everything, take the role from $ROLE again
    REPL key value -> OK            (replica; the primary's replication stream)

Environment: ROLE (primary or replica), PEER (the replica's host name, on the primary).
Standard library only; `python3 kv.py`.
"""

from __future__ import annotations

import os
import socket
import socketserver
import sys
import threading
import time

PORT = 7000
LOCK = threading.Lock()
DATA: dict[str, str] = {}
BACKLOG: list[tuple[str, str]] = []
"""Writes acknowledged to clients, not yet acknowledged by the replica."""
STATE = {"role": os.environ.get("ROLE", "primary")}


def handle(line: str) -> str:
    words = line.split(" ", 2)
    command = words[0].upper()
    with LOCK:
        if command == "SET" and len(words) == 3:
            if STATE["role"] != "primary":
                return "ERR read-only"
            DATA[words[1]] = words[2]
            BACKLOG.append((words[1], words[2]))
            return "OK"
        if command == "REPL" and len(words) == 3:
            DATA[words[1]] = words[2]
            return "OK"
        if command == "GET" and len(words) == 2:
            value = DATA.get(words[1])
            return "NONE" if value is None else f"VALUE {value}"
        if command == "COUNT":
            return f"COUNT {len(DATA)}"
        if command == "ROLE":
            return f"ROLE {STATE['role']}"
        if command == "PROMOTE":
            STATE["role"] = "primary"
            return "OK"
        if command == "RESET":
            DATA.clear()
            BACKLOG.clear()
            STATE["role"] = os.environ.get("ROLE", "primary")
            return "OK"
    return "ERR unknown command"


class Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for raw in self.rfile:
            reply = handle(raw.decode(errors="replace").strip())
            self.wfile.write(reply.encode() + b"\n")
            self.wfile.flush()


def replicate(peer: str) -> None:
    """Ship the backlog to the replica, oldest first, forever; drop what it acknowledged."""
    conn: socket.socket | None = None
    reader = None
    while True:
        time.sleep(0.05)
        with LOCK:
            pending = list(BACKLOG) if STATE["role"] == "primary" else []
        if not pending:
            continue
        try:
            if conn is None:
                conn = socket.create_connection((peer, PORT), timeout=0.5)
                reader = conn.makefile("rb")
            assert reader is not None
            for key, value in pending:
                conn.sendall(f"REPL {key} {value}\n".encode())
                if reader.readline().strip() != b"OK":
                    raise OSError("replica refused")
                with LOCK:
                    if BACKLOG and BACKLOG[0] == (key, value):
                        BACKLOG.pop(0)
        except OSError:
            if conn is not None:
                conn.close()
            conn, reader = None, None


def main() -> int:
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    server = socketserver.ThreadingTCPServer(("0.0.0.0", PORT), Handler)
    peer = os.environ.get("PEER")
    if peer:
        threading.Thread(target=replicate, args=(peer,), daemon=True).start()
    print(f"kv {STATE['role']} on :{PORT}, replicating to {peer or '-'}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
