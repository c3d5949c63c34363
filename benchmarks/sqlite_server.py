"""Benchmark: squall's SQLite server against the seed's socat setup and in-process sqlite3.

    python benchmarks/sqlite_server.py [--seconds 2] [--clients 1,8,32] [--lean]
        [--before DIR] [--rounds N]

For point reads (`SELECT v FROM kv WHERE k = ?`, random k among 10,000 rows) and
single-row inserts (autocommit), with 1, 8 and 32 clients, it measures queries per
second and p50/p99 latency of:

- squall: `python -m squall.sqlite.standalone` on loopback, clients using
  `squall.sqlite.connect` (JSON lines);
- socat: the seed's `socat TCP-L:PORT,fork,reuseaddr EXEC:'sqlite3 DB',pty`, clients
  typing the statement and reading up to the next `sqlite> ` prompt (a statement that
  fails, such as "database is locked", counts as an error, not as a query);
- in-process: N threads of this process, each with its own sqlite3 connection (WAL),
  the limit no server can pass;
- floor: the same squall client against a server that runs no SQL at all (it answers
  every request line with a canned answer): the round-trip limit of one request in
  flight per client on this machine, which no server on loopback can pass either.

Network clients are threads spread over two worker processes, so the client side does
not share one interpreter lock. With `--lean`, the squall, pipelined and floor clients
are instead one selector loop per worker process sending prepared requests, so the
figures show the server's limit rather than the Python client's. Each cell runs a fixed
number of seconds.

With `--before DIR` (another checkout, e.g. `git worktree add /tmp/before REV`), the
squall and pipelined cells also run against the server in DIR/src, each right after
the same cell of this tree's server (every server listens all along, so a cell and its
"before" run close in time), and a last table gives both, their ratio and the server's
CPU time per query. `--rounds N` runs every cell N times and keeps the median.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import selectors
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from argparse import Namespace
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection as Pipe
from multiprocessing.process import BaseProcess
from pathlib import Path

ROWS = 10_000
TARGETS = ("in-process", "squall", "pipelined", "floor", "socat")
BEFORE = {"squall": "squall@before", "pipelined": "pipelined@before"}
READ_SQL = "SELECT v FROM kv WHERE k = ?"
INSERT_SQL = "INSERT INTO log(v) VALUES (?)"
SRC = Path(__file__).resolve().parent.parent / "src"


@dataclass
class Cell:
    """The figures of one (target, workload, clients) run."""

    queries: int
    errors: int
    seconds: float
    latencies: list[float]
    server_cpu: float | None = None  # seconds of the server process's CPU in the cell

    @property
    def qps(self) -> float:
        return self.queries / self.seconds

    @property
    def cpu_per_query(self) -> float:
        """Microseconds of server CPU per query: steadier than q/s on a shared machine."""
        if self.server_cpu is None or not self.queries:
            return float("nan")
        return self.server_cpu / self.queries * 1e6

    def percentile(self, p: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(p) - 1]


def make_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT)")
    conn.execute("CREATE TABLE log(id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO kv VALUES (?, ?)", ((i, f"value-{i}") for i in range(ROWS)))
    conn.commit()
    conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class SocatClient:
    """Types into the seed's sqlite3-behind-a-pty and reads up to the next prompt."""

    queries_per_call = 1

    PROMPT = b"sqlite> "

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._read_to_prompt()

    def _read_to_prompt(self) -> bytes:
        data = b""
        while not data.endswith(self.PROMPT):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("socat closed the connection")
            data += chunk
        return data

    def query(self, kind: str, n: int) -> bool:
        if kind == "read":
            sql = f"SELECT v FROM kv WHERE k = {n};\n"
        else:
            sql = f"INSERT INTO log(v) VALUES ('bench-{n}');\n"
        self.sock.sendall(sql.encode())
        # "Error: ..." or "Runtime error: database is locked (5)"
        return b"error" not in self._read_to_prompt().lower()


class SquallClient:
    """One request, one answer, like every other client here."""

    queries_per_call = 1

    def __init__(self, port: int) -> None:
        sys.path.insert(0, str(SRC))
        from squall.sqlite import connect

        self.conn = connect("127.0.0.1", port)

    def query(self, kind: str, n: int) -> bool:
        from squall.errors import SqliteQueryError

        try:
            if kind == "read":
                self.conn.execute(READ_SQL, [n])
            else:
                self.conn.execute(INSERT_SQL, [f"bench-{n}"])
        except SqliteQueryError:
            return False
        return True


class PipelinedClient(SquallClient):
    """`executemany`: PIPELINE queries sent before their answers are read."""

    queries_per_call = 16

    def query(self, kind: str, n: int) -> bool:
        from squall.errors import SqliteQueryError

        keys = [(n + i) % ROWS for i in range(self.queries_per_call)]
        try:
            if kind == "read":
                self.conn.executemany(READ_SQL, [[k] for k in keys])
            else:
                self.conn.executemany(INSERT_SQL, [[f"bench-{k}"] for k in keys])
        except SqliteQueryError:
            return False
        return True


class LocalClient:
    queries_per_call = 1

    def __init__(self, db: Path) -> None:
        self.conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout=10000")
        self.conn.execute("PRAGMA synchronous=NORMAL")

    def query(self, kind: str, n: int) -> bool:
        try:
            if kind == "read":
                self.conn.execute(READ_SQL, (n,)).fetchall()
            else:
                self.conn.execute(INSERT_SQL, (f"bench-{n}",))
        except sqlite3.OperationalError:
            return False
        return True


Client = SocatClient | SquallClient | LocalClient


def run_threads(make: Callable[[], Client], kind: str, threads: int, seconds: float) -> Cell:
    """`threads` clients, each querying in a loop for `seconds`."""
    clients = [make() for _ in range(threads)]
    results: list[tuple[int, int, list[float]]] = []
    barrier = threading.Barrier(threads + 1)
    lock = threading.Lock()

    def work(client: Client, seed: int) -> None:
        rng = random.Random(seed)
        latencies: list[float] = []
        errors = 0
        barrier.wait()
        end = time.perf_counter() + seconds
        now = time.perf_counter()
        while now < end:
            ok = client.query(kind, rng.randrange(ROWS))
            done = time.perf_counter()
            if ok:
                latencies.append(done - now)
            else:
                errors += 1
            now = done
        with lock:
            results.append((len(latencies) * client.queries_per_call, errors, latencies))

    workers = [threading.Thread(target=work, args=(c, i)) for i, c in enumerate(clients)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = max(time.perf_counter() - started, seconds)
    return Cell(
        sum(r[0] for r in results),
        sum(r[1] for r in results),
        elapsed,
        [x for r in results for x in r[2]],
    )


def _lean_request(kind: str, n: int) -> bytes:
    if kind == "read":
        return b'{"sql":"SELECT v FROM kv WHERE k = ?","params":[%d]}\n' % n
    return b'{"sql":"INSERT INTO log(v) VALUES (?)","params":["bench-%d"]}\n' % n


def run_lean(port: int, kind: str, connections: int, seconds: float, depth: int = 1) -> Cell:
    """`connections` clients driven by one selector loop: prepared requests, answers
    only counted, so the client spends as little as it can per query. Each client sends
    `depth` requests at once and waits for all their answers (a latency is per batch)."""
    rng = random.Random(port)
    selector = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b".mode jsonl\n")
        greeting = b""
        while not greeting.endswith(b"}\n"):  # banner, prompt, then the handshake's answer
            greeting += sock.recv(65536)
        socks.append(sock)

    def send_batch(sock: socket.socket) -> None:
        sock.send(b"".join(_lean_request(kind, rng.randrange(ROWS)) for _ in range(depth)))

    sent: dict[socket.socket, float] = {}
    partial: dict[socket.socket, bytes] = {}
    latencies: list[float] = []
    errors = 0
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        sent[sock] = time.perf_counter()
        send_batch(sock)
    started = time.perf_counter()
    end = started + seconds
    while (now := time.perf_counter()) < end:
        for key, _ in selector.select(timeout=0.1):
            ready = key.fileobj
            assert isinstance(ready, socket.socket)
            answers = partial.pop(ready, b"") + ready.recv(65536)
            if answers.count(b"\n") < depth:  # the batch is not all answered yet
                partial[ready] = answers
                continue
            done = time.perf_counter()
            failed = answers.count(b'{"ok":false')
            if failed:
                errors += failed
            else:
                latencies.append(done - sent[ready])
            sent[ready] = done
            send_batch(ready)
    for sock in socks:
        sock.close()
    return Cell(len(latencies) * depth, errors, max(now - started, seconds), latencies)


def _process_main(
    target: str, port: int, kind: str, threads: int, seconds: float, lean: bool, out: Pipe
) -> None:
    if lean and target != "socat":
        depth = PipelinedClient.queries_per_call if target == "pipelined" else 1
        out.send(run_lean(port, kind, threads, seconds, depth))
        out.close()
        return

    def make() -> Client:
        if target == "socat":
            return SocatClient(port)
        if target == "pipelined":
            return PipelinedClient(port)
        return SquallClient(port)  # squall's server, or the floor's

    out.send(run_threads(make, kind, threads, seconds))
    out.close()


def run_network(
    target: str, port: int, kind: str, clients: int, seconds: float, lean: bool = False
) -> Cell:
    """`clients` network clients over at most two worker processes."""
    context = multiprocessing.get_context("fork")
    processes = min(clients, 2)
    shares = [
        clients // processes + (1 if i < clients % processes else 0) for i in range(processes)
    ]
    pipes = []
    children = []
    for share in shares:
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(
            target=_process_main, args=(target, port, kind, share, seconds, lean, sender)
        )
        child.start()
        pipes.append(receiver)
        children.append(child)
    cells = [pipe.recv() for pipe in pipes]
    for child in children:
        child.join()
    return Cell(
        sum(c.queries for c in cells),
        sum(c.errors for c in cells),
        max(c.seconds for c in cells),
        [x for c in cells for x in c.latencies],
    )


def start_squall(db: Path, port: int, src: Path = SRC) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(src))
    argv = [sys.executable, "-m", "squall.sqlite.standalone", "--db", str(db), "--port", str(port)]
    argv += ["--max-connections", "1000"]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    wait_port(port)
    return process


FLOOR_ANSWER = (
    b'{"ok":true,"columns":["v"],"rows":[["value-1"]],"rowcount":-1,"lastrowid":0,"tx":false}\n'
)
FLOOR_GREETING = (
    b'SQLite (floor)\nEnter ".help" for usage hints.\n'
    b'sqlite> {"ok":true,"mode":"jsonl","auth":false}\n'
)
FLOOR_LIFETIME = 600.0


def _floor_main(listener: socket.socket) -> None:
    """Answer each request line at once, without SQL; gone after FLOOR_LIFETIME at most."""
    selector = selectors.DefaultSelector()
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ)
    pending: dict[socket.socket, bytes] = {}
    deadline = time.monotonic() + FLOOR_LIFETIME
    while time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1.0):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if sock is listener:
                conn, _ = listener.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                selector.register(conn, selectors.EVENT_READ)
                pending[conn] = b""
                continue
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                selector.unregister(sock)
                sock.close()
                del pending[sock]
                continue
            lines = (pending[sock] + data).split(b"\n")
            pending[sock] = lines.pop()
            answers = [FLOOR_GREETING if line == b".mode jsonl" else FLOOR_ANSWER for line in lines]
            sock.sendall(b"".join(answers))


def start_floor(port: int) -> BaseProcess:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(512)
    process = multiprocessing.get_context("fork").Process(target=_floor_main, args=(listener,))
    process.start()
    listener.close()
    wait_port(port)
    return process


def start_socat(db: Path, port: int) -> subprocess.Popen[bytes]:
    argv = ["socat", f"TCP-L:{port},fork,reuseaddr", f"EXEC:sqlite3 {db},pty"]
    process = subprocess.Popen(argv)
    wait_port(port)
    return process


def stop(process: subprocess.Popen[bytes] | BaseProcess) -> None:
    process.terminate()
    if isinstance(process, BaseProcess):
        process.join(10)
        if process.exitcode is None:
            process.kill()
            process.join()
        return
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_target(
    target: str, db: Path, port: int, before: Path | None
) -> subprocess.Popen[bytes] | BaseProcess | None:
    """The server a target's clients talk to (none for in-process)."""
    if target in ("squall", "pipelined"):
        return start_squall(db, port)
    if target in BEFORE.values():
        assert before is not None
        return start_squall(db, port, before / "src")
    if target == "socat":
        return start_socat(db, port)
    if target == "floor":
        return start_floor(port)
    return None


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_cell(
    target: str, where: tuple[Path, int, int | None], kind: str, clients: int, args: Namespace
) -> Cell:
    db, port, pid = where
    if target == "in-process":
        return run_threads(partial(LocalClient, db), kind, clients, args.seconds)
    client = next((t for t, b in BEFORE.items() if b == target), target)  # same client
    used = cpu_seconds(pid) if pid is not None else 0.0
    cell = run_network(client, port, kind, clients, args.seconds, args.lean)
    if pid is not None:
        cell.server_cpu = cpu_seconds(pid) - used
    return cell


def median_cell(cells: list[Cell]) -> Cell:
    """The round whose q/s is the median (rounds of a cell on a machine others use)."""
    return sorted(cells, key=lambda c: c.qps)[len(cells) // 2]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per cell")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument(
        "--lean",
        action="store_true",
        help="squall, pipelined and floor clients as one selector loop per process, not"
        " squall's client in threads: measures the server, not the client",
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="another checkout: its server runs the squall and pipelined cells too",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run each cell this many times (targets in turn, the order reversed every"
        " other round) and keep the median: for machines others use at the same time",
    )
    return parser


def main() -> int:
    parser = _parser()
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    if shutil.which("socat") is None:
        parser.error("socat is not installed (bash scripts/install.sh installs it)")
    if args.before is not None and not (args.before / "src" / "squall").is_dir():
        parser.error(f"--before {args.before}: no src/squall there")
    targets = list(TARGETS)
    if args.before is not None:  # each "before" target right after its own
        targets = [t for target in TARGETS for t in (target, BEFORE.get(target)) if t]
    with tempfile.TemporaryDirectory(prefix="squall-bench-") as tmp:
        where: dict[str, tuple[Path, int, int | None]] = {}
        servers: list[subprocess.Popen[bytes] | BaseProcess] = []
        try:
            for target in targets:
                db = Path(tmp) / f"{target}.db"
                make_database(db)
                port = free_port()
                server = start_target(target, db, port, args.before)
                measured = server is not None and target != "socat"  # socat forks per client
                where[target] = (db, port, server.pid if server is not None and measured else None)
                if server is not None:
                    servers.append(server)
            table = measure(targets, where, counts, args)
        finally:
            for server in servers:
                stop(server)
    print_table(table, counts, args.lean)
    if args.before is not None:
        print_before_after(table, counts, args.before)
    return 0


def measure(
    targets: list[str],
    where: dict[str, tuple[Path, int, int | None]],
    counts: list[int],
    args: Namespace,
) -> dict[tuple[str, str, int], Cell]:
    """Every cell, `args.rounds` times, the targets of a cell one after the other."""
    table: dict[tuple[str, str, int], Cell] = {}
    for kind in ("read", "insert"):
        for clients in counts:
            rounds: dict[str, list[Cell]] = {t: [] for t in targets}
            for n in range(args.rounds):
                for target in targets if n % 2 == 0 else reversed(targets):
                    rounds[target].append(run_cell(target, where[target], kind, clients, args))
            for target in targets:
                cell = table[(target, kind, clients)] = median_cell(rounds[target])
                print(
                    f"  {target:16} {kind:6} {clients:2} clients: {cell.qps:9.0f} q/s",
                    file=sys.stderr,
                    flush=True,
                )
    return table


def print_table(table: dict[tuple[str, str, int], Cell], counts: list[int], lean: bool) -> None:
    header = (
        f"{'workload':8} {'clients':>7} | {'target':10} {'q/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    for kind in ("read", "insert"):
        for clients in counts:
            for target in ("squall", "pipelined", "floor", "socat", "in-process"):
                cell = table[(target, kind, clients)]
                print(
                    f"{kind:8} {clients:7} | {target:10} {cell.qps:9.0f} "
                    f"{cell.percentile(50) * 1000:8.3f} {cell.percentile(99) * 1000:8.3f} "
                    f"{cell.errors:6}"
                )
            squall = table[("squall", kind, clients)].qps
            socat = table[("socat", kind, clients)].qps
            local = table[("in-process", kind, clients)].qps
            vs_socat = f"{squall / socat:.0f}x socat" if socat else "socat: 0 q/s"
            piped = table[("pipelined", kind, clients)].qps
            floor = table[("floor", kind, clients)].qps
            print(
                f"{'':17}| squall = {vs_socat}, {100 * squall / local:.0f}% of in-process,"
                f" {100 * squall / floor:.0f}% of the floor;"
                f" pipelined = {100 * piped / local:.0f}% of in-process;"
                f" floor = {100 * floor / local:.0f}% of in-process"
            )
    who = "lean selector-loop clients" if lean else "squall's client in threads"
    print(
        f"Network clients: {who} (socat: always its own client). pipelined: 16"
        " queries sent before their answers are read (executemany); its latencies are per"
        " batch of 16. floor: no SQL, a canned answer per request line: the most one"
        " request in flight per client can reach."
    )


def print_before_after(
    table: dict[tuple[str, str, int], Cell], counts: list[int], before: Path
) -> None:
    """Each squall and pipelined cell before (the server in `before`) and after."""
    print()
    header = (
        f"{'workload':8} {'clients':>7} | {'target':10} {'before q/s':>10} {'after q/s':>10}"
        f" {'after/before':>12} | {'cpu us/q before':>15} {'after':>6} |"
        f" {'% of floor before':>17} {'after':>6}"
    )
    print(f"before: {before}")
    print(header)
    print("-" * len(header))
    for kind in ("read", "insert"):
        for clients in counts:
            floor = table[("floor", kind, clients)].qps
            for target, old in BEFORE.items():
                was, now = table[(old, kind, clients)], table[(target, kind, clients)]
                print(
                    f"{kind:8} {clients:7} | {target:10} {was.qps:10.0f} {now.qps:10.0f}"
                    f" {now.qps / was.qps if was.qps else float('nan'):12.2f} |"
                    f" {was.cpu_per_query:15.1f} {now.cpu_per_query:6.1f} |"
                    f" {100 * was.qps / floor:16.0f}% {100 * now.qps / floor:5.0f}%"
                )
    print(
        "cpu us/q: the server process's CPU time per query in the cell (user + system),"
        " steadier than q/s when other work shares the machine."
    )


if __name__ == "__main__":
    sys.exit(main())
