"""A fake Docker Engine: the Engine API's JSON, answered over a unix socket to the real
`docker` SDK, the way docker-py's own unit tests answer it canned responses.

It keeps containers, networks, volumes and images in memory, records every request,
and can be told to fail one endpoint (`fail`). Only the calls `DockerEngine` makes are
answered; anything else is a 404 the test will notice. For unit tests of the Docker
backend's logic, never as proof that Squall works with a real engine.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

JSON = dict[str, Any]
API_VERSION = "1.41"
HIJACK_PAUSE = 0.05
Route = Callable[["FakeEngine", re.Match[str], dict[str, list[str]], Any], tuple[int, Any]]


@dataclass
class Request:
    method: str
    path: str
    """Without the API version prefix: `/containers/create`."""
    query: dict[str, list[str]]
    body: Any


@dataclass
class FakeEngine:
    """The engine's state, and what it was asked."""

    containers: dict[str, JSON] = field(default_factory=dict)
    networks: dict[str, JSON] = field(default_factory=dict)
    volumes: dict[str, JSON] = field(default_factory=dict)
    images: dict[str, JSON] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    failures: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    pulls: dict[str, list[JSON]] = field(default_factory=dict)
    """Image reference -> the messages a pull of it streams (absent: 404)."""
    events: list[JSON] = field(default_factory=list)
    """What `GET /events` streams before it ends (as an engine that shuts down)."""
    on_inspect: Callable[[JSON], None] | None = None
    """Called with a container before each inspect answers (to move its state on)."""
    execs: dict[str, JSON] = field(default_factory=dict)
    """Exec id -> `{"Container": id, "Config": body, "ExitCode": code}`."""
    on_exec: Callable[[JSON], tuple[int, bytes]] | None = None
    """Given an exec's create body, its exit code and stdout (default: 0, nothing)."""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, method: str, pattern: str, status: int = 500, message: str = "boom") -> None:
        """Answer requests whose path matches `pattern` (a regex) with an error."""
        self.failures[(method, pattern)] = (status, message)

    def add_image(self, ref: str, labels: JSON | None = None) -> str:
        ident = f"sha256:{next(self._ids):064x}"
        self.images[ref] = {"Id": ident, "RepoTags": [ref], "Config": {"Labels": labels or {}}}
        return ident

    def calls(self, method: str | None = None, prefix: str = "") -> list[str]:
        """`METHOD /path` of every request so far (filtered)."""
        return [
            f"{r.method} {r.path}"
            for r in self.requests
            if (method is None or r.method == method) and r.path.startswith(prefix)
        ]

    def new_id(self) -> str:
        return f"{next(self._ids):064x}"

    def find_container(self, ident: str) -> JSON | None:
        ident = ident.lstrip("/")
        for container in self.containers.values():
            if container["Id"].startswith(ident) or container["Name"] == f"/{ident}":
                return container
        return None

    def find_network(self, ident: str) -> JSON | None:
        return next((n for n in self.networks.values() if ident in (n["Id"], n["Name"])), None)


def _labels_match(labels: JSON, wanted: list[str]) -> bool:
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def _label_filter(query: dict[str, list[str]]) -> list[str]:
    raw = query.get("filters", ["{}"])[0]
    filters = json.loads(raw) if raw else {}
    wanted = filters.get("label", [])
    return list(wanted)


# -- routes ---------------------------------------------------------------------------


def _version(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    return 200, {"ApiVersion": API_VERSION, "Version": "20.10.24", "MinAPIVersion": "1.12"}


def _ping(engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any) -> tuple[int, Any]:
    return 200, "OK"


def _image_inspect(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    image = engine.images.get(m["name"])
    return (200, image) if image else (404, {"message": f"No such image: {m['name']}"})


def _image_list(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    wanted = _label_filter(q)
    found = [i for i in engine.images.values() if _labels_match(i["Config"]["Labels"], wanted)]
    return 200, found


def _image_pull(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    ref = f"{q['fromImage'][0]}:{q.get('tag', ['latest'])[0]}"
    messages = engine.pulls.get(ref)
    if messages is None:
        return 404, {"message": f"pull access denied for {ref}, repository does not exist"}
    if not any("error" in message for message in messages):
        engine.add_image(ref)
    return 200, _Stream(messages)


def _image_remove(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    for ref, image in list(engine.images.items()):
        if m["name"] in (ref, image["Id"]):
            del engine.images[ref]
            return 200, [{"Deleted": image["Id"]}]
    return 404, {"message": "No such image"}


def _container_list(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    wanted = _label_filter(q)
    return 200, [
        {
            "Id": c["Id"],
            "Names": [c["Name"]],
            "Image": c["Config"]["Image"],
            "Labels": c["Config"]["Labels"],
            "State": c["State"]["Status"],
        }
        for c in engine.containers.values()
        if _labels_match(c["Config"]["Labels"], wanted)
    ]


def _container_create(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    name = q["name"][0]
    if engine.find_container(name) is not None:
        return 409, {"message": f'Conflict. The container name "/{name}" is already in use'}
    if b["Image"] not in engine.images:
        return 404, {"message": f"No such image: {b['Image']}"}
    ident = engine.new_id()
    endpoints = (b.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}
    container: JSON = {
        "Id": ident,
        "Name": f"/{name}",
        "Config": {**b, "Labels": b.get("Labels") or {}},
        "HostConfig": b.get("HostConfig") or {},
        "State": {"Status": "created", "Pid": 0, "ExitCode": 0},
        "NetworkSettings": {"Networks": {}, "Ports": {}},
    }
    engine.containers[ident] = container
    for network, endpoint in endpoints.items():
        _attach(engine, container, network, endpoint)
    return 201, {"Id": ident, "Warnings": []}


def _attach(engine: FakeEngine, container: JSON, network: str, endpoint: JSON) -> None:
    net = engine.find_network(network)
    assert net is not None, f"no network {network}"
    index = len(net["Containers"]) + 2
    ip = (
        (endpoint.get("IPAMConfig") or {}).get("IPv4Address")
    ) or f"172.30.{len(engine.networks)}.{index}"
    net["Containers"][container["Id"]] = {"Name": container["Name"].lstrip("/")}
    container["NetworkSettings"]["Networks"][net["Name"]] = {
        "IPAddress": ip,
        "IPPrefixLen": 24,
        "Aliases": [*(endpoint.get("Aliases") or []), container["Id"][:12]],
    }


def _container_inspect(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    container = engine.find_container(m["id"])
    if container is None:
        return 404, {"message": f"No such container: {m['id']}"}
    if engine.on_inspect is not None:
        engine.on_inspect(container)
    return 200, container


def _container_action(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    container = engine.find_container(m["id"])
    if container is None:
        return 404, {"message": f"No such container: {m['id']}"}
    state = container["State"]
    action = m["action"]
    if action in ("start", "restart", "unpause"):
        state.update(Status="running", Pid=4000 + len(engine.requests))
        ports = container["HostConfig"].get("PortBindings") or {}
        container["NetworkSettings"]["Ports"] = {
            key: [
                {"HostIp": p["HostIp"] or "0.0.0.0", "HostPort": p["HostPort"] or "49153"}
                for p in binds
            ]
            for key, binds in ports.items()
        }
    elif action in ("stop", "kill"):
        state.update(Status="exited", Pid=0)
    elif action == "pause":
        state.update(Status="paused")
    return 204, None


def _container_exec(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    container = engine.find_container(m["id"])
    if container is None:
        return 404, {"message": f"No such container: {m['id']}"}
    if container["State"]["Status"] != "running":
        return 409, {"message": f"Container {m['id']} is not running"}
    ident = engine.new_id()
    engine.execs[ident] = {"Container": container["Id"], "Config": b, "ExitCode": None}
    return 201, {"Id": ident}


def _exec_start(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    record = engine.execs.get(m["id"])
    if record is None:
        return 404, {"message": "No such exec instance"}
    code, output = engine.on_exec(record["Config"]) if engine.on_exec else (0, b"")
    record["ExitCode"] = code
    return 200, _Raw(output)


def _exec_inspect(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    record = engine.execs.get(m["id"])
    if record is None:
        return 404, {"message": "No such exec instance"}
    return 200, {"ID": m["id"], "Running": False, "ExitCode": record["ExitCode"]}


def _container_archive(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    container = engine.find_container(m["id"])
    if container is None:
        return 404, {"message": f"No such container: {m['id']}"}
    container.setdefault("Archives", []).append((q["path"][0], b))
    return 200, None


def _container_remove(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    container = engine.find_container(m["id"])
    if container is None:
        return 404, {"message": f"No such container: {m['id']}"}
    del engine.containers[container["Id"]]
    for network in engine.networks.values():
        network["Containers"].pop(container["Id"], None)
    return 204, None


def _network_list(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    wanted = _label_filter(q)
    return 200, [n for n in engine.networks.values() if _labels_match(n["Labels"], wanted)]


def _network_inspect(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    network = engine.find_network(m["id"])
    return (200, network) if network else (404, {"message": f"network {m['id']} not found"})


def _network_create(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    if engine.find_network(b["Name"]) is not None:
        return 409, {"message": f"network with name {b['Name']} already exists"}
    ident = engine.new_id()
    engine.networks[ident] = {
        "Name": b["Name"],
        "Id": ident,
        "Driver": b.get("Driver") or "bridge",
        "IPAM": b.get("IPAM") or {"Config": [{"Subnet": f"172.30.{len(engine.networks)}.0/24"}]},
        "Internal": bool(b.get("Internal")),
        "Labels": b.get("Labels") or {},
        "Containers": {},
    }
    return 201, {"Id": ident, "Warning": ""}


def _network_remove(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    network = engine.find_network(m["id"])
    if network is None:
        return 404, {"message": "network not found"}
    del engine.networks[network["Id"]]
    return 204, None


def _network_connect(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    container = engine.find_container(b["Container"])
    if container is None or engine.find_network(m["id"]) is None:
        return 404, {"message": "no such container or network"}
    _attach(engine, container, m["id"], b.get("EndpointConfig") or {})
    return 200, None


def _volume_list(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    wanted = _label_filter(q)
    found = [v for v in engine.volumes.values() if _labels_match(v["Labels"], wanted)]
    return 200, {"Volumes": found, "Warnings": None}


def _volume_inspect(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    volume = engine.volumes.get(m["name"])
    return (200, volume) if volume else (404, {"message": f"get {m['name']}: no such volume"})


def _volume_create(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    volume = {
        "Name": b["Name"],
        "Driver": b.get("Driver") or "local",
        "Labels": b.get("Labels") or {},
    }
    engine.volumes[b["Name"]] = volume
    return 201, volume


def _volume_remove(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    if engine.volumes.pop(m["name"], None) is None:
        return 404, {"message": "no such volume"}
    return 204, None


def _events(
    engine: FakeEngine, m: re.Match[str], q: dict[str, list[str]], b: Any
) -> tuple[int, Any]:
    return 200, _Stream(list(engine.events))


ROUTES: list[tuple[str, re.Pattern[str], Route]] = [
    (method, re.compile(f"^{pattern}$"), route)
    for method, pattern, route in (
        ("GET", r"/version", _version),
        ("GET", r"/_ping", _ping),
        ("GET", r"/events", _events),
        ("GET", r"/images/json", _image_list),
        ("GET", r"/images/(?P<name>.+)/json", _image_inspect),
        ("POST", r"/images/create", _image_pull),
        ("DELETE", r"/images/(?P<name>.+)", _image_remove),
        ("GET", r"/containers/json", _container_list),
        ("POST", r"/containers/create", _container_create),
        ("GET", r"/containers/(?P<id>[^/]+)/json", _container_inspect),
        (
            "POST",
            r"/containers/(?P<id>[^/]+)/(?P<action>start|stop|restart|kill|pause|unpause)",
            _container_action,
        ),
        ("DELETE", r"/containers/(?P<id>[^/]+)", _container_remove),
        ("POST", r"/containers/(?P<id>[^/]+)/exec", _container_exec),
        ("PUT", r"/containers/(?P<id>[^/]+)/archive", _container_archive),
        ("POST", r"/exec/(?P<id>[^/]+)/start", _exec_start),
        ("GET", r"/exec/(?P<id>[^/]+)/json", _exec_inspect),
        ("GET", r"/networks", _network_list),
        ("POST", r"/networks/create", _network_create),
        ("GET", r"/networks/(?P<id>[^/]+)", _network_inspect),
        ("DELETE", r"/networks/(?P<id>[^/]+)", _network_remove),
        ("POST", r"/networks/(?P<id>[^/]+)/connect", _network_connect),
        ("GET", r"/volumes", _volume_list),
        ("POST", r"/volumes/create", _volume_create),
        ("GET", r"/volumes/(?P<name>[^/]+)", _volume_inspect),
        ("DELETE", r"/volumes/(?P<name>[^/]+)", _volume_remove),
    )
]


@dataclass
class _Stream:
    """A chunked answer of JSON messages, one chunk each (pulls, builds)."""

    messages: list[JSON]


@dataclass
class _Raw:
    """An exec's output as the engine streams it: stdout frames, then the connection
    closes (the client reads the socket to its end)."""

    stdout: bytes


def _body(raw: bytes, content_type: str) -> Any:
    """JSON bodies parsed; a tar (`PUT .../archive`) kept as bytes."""
    if not raw:
        return None
    if "json" in content_type or content_type == "":
        with contextlib.suppress(ValueError):
            return json.loads(raw)
    return raw


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_DELETE(self) -> None:
        self._answer("DELETE")

    def do_PUT(self) -> None:
        self._answer("PUT")

    def _answer(self, method: str) -> None:
        engine = self.server.engine
        url = urlsplit(self.path)
        path = re.sub(rf"^/v{re.escape(API_VERSION)}", "", unquote(url.path))
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = _body(raw, self.headers.get("Content-Type") or "")
        with engine.lock:
            engine.requests.append(Request(method, path, query, body))
            status, answer = self._route(engine, method, path, query, body)
        self._send(status, answer)

    def _route(
        self, engine: FakeEngine, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        for (fail_method, pattern), (status, message) in engine.failures.items():
            if fail_method == method and re.search(pattern, path):
                return status, {"message": message}
        for route_method, route_path, route in ROUTES:
            match = route_path.match(path)
            if route_method == method and match:
                return route(engine, match, query, body)
        return 404, {"message": f"fake engine: no route for {method} {path}"}

    def _send(self, status: int, answer: Any) -> None:
        self.send_response(status)
        if isinstance(answer, _Raw):
            self.send_header("Content-Type", "application/vnd.docker.raw-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.flush()
            # The client reads the frames from the socket itself once it has the headers
            # (as from a hijacked connection): frames sent with them would sit unread in
            # its header buffer.
            time.sleep(HIJACK_PAUSE)
            if answer.stdout:
                self.wfile.write(b"\x01\x00\x00\x00" + len(answer.stdout).to_bytes(4, "big"))
                self.wfile.write(answer.stdout)
            self.wfile.flush()
            self.close_connection = True
            return
        if isinstance(answer, _Stream):
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for message in answer.messages:
                data = json.dumps(message).encode() + b"\r\n"
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        data = (
            b""
            if answer is None
            else (answer.encode() if isinstance(answer, str) else json.dumps(answer).encode())
        )
        self.send_header(
            "Content-Type", "text/plain" if isinstance(answer, str) else "application/json"
        )
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self) -> str:
        return "fake-engine-client"

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, engine: FakeEngine) -> None:
        self.engine = engine
        super().__init__(path, _Handler)


@contextlib.contextmanager
def serving(directory: Path) -> Iterator[tuple[FakeEngine, str]]:
    """A fake engine listening on a unix socket in `directory`: (engine, base URL)."""
    path = directory / "docker.sock"
    engine = FakeEngine()
    server = _Server(str(path), engine)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield engine, f"unix://{path}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
