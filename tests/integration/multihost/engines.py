"""Several real Docker Engines on this machine: one `dockerd` per network namespace.

Each engine is a separate host as far as Squall can tell: its own network namespace
(with one veth on a bridge this module makes), its own data-root, exec-root, pidfile,
sockets and managed containerd. It listens on a unix socket and on `tcp://NODE_IP:2375`
inside its own namespace only. `dockerd` is started through `nsenter --net` (not `ip
netns exec`, which remounts /sys so that dockerd finds no devices cgroup), from a config
file (its flags would clash with /etc/docker/daemon.json). The host engine's FORWARD
policy drops bridged traffic, so the bridge gets an ACCEPT in `DOCKER-USER`.

`Engines.stop()` removes every engine, namespace, bridge, rule and folder it made,
whatever state `start()` reached.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker

BRIDGE = "sqmhbr0"
SUBNET_PREFIX = "192.168.213."
BRIDGE_IP = SUBNET_PREFIX + "1"
ROOT = Path("/var/lib/squall-multihost")
RUN = Path("/run/squall-multihost")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
RULES = (("-i", BRIDGE), ("-o", BRIDGE))


def _run(*argv: str, check: bool = True, stdin: bytes | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode(errors="replace")


@dataclass
class Engine:
    """One engine: its name, its address on the bridge and its running dockerd."""

    name: str
    ip: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def netns(self) -> str:
        return f"sqmh-{self.name}"

    @property
    def folder(self) -> Path:
        return ROOT / self.name

    @property
    def socket(self) -> Path:
        return RUN / f"{self.name}.sock"

    @property
    def url(self) -> str:
        """What a user would write: the engine's TCP address."""
        return f"tcp://{self.ip}:2375"

    @property
    def unix_url(self) -> str:
        return f"unix://{self.socket}"

    def client(self) -> docker.APIClient:
        return docker.APIClient(base_url=self.unix_url, version="auto", timeout=60)

    def config(self, storage_driver: str) -> dict[str, object]:
        return {
            "data-root": str(self.folder / "data"),
            "exec-root": str(RUN / self.name),
            "pidfile": str(RUN / f"{self.name}.pid"),
            "storage-driver": storage_driver,
            "hosts": [self.unix_url, self.url],
            "log-driver": "json-file",
            "mtu": 1400,
        }


@dataclass
class Engines:
    """`count` engines named h1..hN; `start()` brings them up, `stop()` removes all."""

    count: int = 3
    engines: list[Engine] = field(default_factory=list)
    made_bridge: bool = False
    rules: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.engines = [
            Engine(f"h{n}", f"{SUBNET_PREFIX}{10 + n}") for n in range(1, self.count + 1)
        ]

    def start(self, images: tuple[str, ...]) -> None:
        """Bridge, namespaces, engines, rules, then `images` copied into every engine."""
        storage = docker.from_env().info()["Driver"]
        self._bridge()
        for engine in self.engines:
            self._namespace(engine)
            self._dockerd(engine, storage)
        for option, device in RULES:
            _run("iptables", "-I", "DOCKER-USER", option, device, "-j", "ACCEPT")
            self.rules.append((option, device))
        for engine in self.engines:
            self._wait(engine)
        for image in images:
            saved = _run_bytes("docker", "save", image)
            for engine in self.engines:
                _run("docker", "-H", engine.unix_url, "load", "-q", stdin=saved)

    def _bridge(self) -> None:
        _run("ip", "link", "add", BRIDGE, "type", "bridge")
        self.made_bridge = True
        _run("ip", "addr", "add", f"{BRIDGE_IP}/24", "dev", BRIDGE)
        _run("ip", "link", "set", BRIDGE, "up")

    def _namespace(self, engine: Engine) -> None:
        host_side, inside = f"sqmhv{engine.name}", f"sqmhc{engine.name}"
        _run("ip", "netns", "add", engine.netns)
        _run("ip", "link", "add", host_side, "type", "veth", "peer", "name", inside)
        _run("ip", "link", "set", host_side, "master", BRIDGE, "up")
        _run("ip", "link", "set", inside, "netns", engine.netns)
        inns = ("ip", "-n", engine.netns)
        _run(*inns, "link", "set", inside, "name", "eth0")
        _run(*inns, "addr", "add", f"{engine.ip}/24", "dev", "eth0")
        _run(*inns, "link", "set", "eth0", "up")
        _run(*inns, "link", "set", "lo", "up")
        _run(*inns, "route", "add", "default", "via", BRIDGE_IP)

    def _dockerd(self, engine: Engine, storage: str) -> None:
        engine.folder.mkdir(parents=True, exist_ok=True)
        RUN.mkdir(parents=True, exist_ok=True)
        config = engine.folder / "daemon.json"
        config.write_text(json.dumps(engine.config(storage)))
        log = (engine.folder / "dockerd.log").open("ab")
        engine.process = subprocess.Popen(
            [
                "nsenter",
                f"--net=/run/netns/{engine.netns}",
                "dockerd",
                "--config-file",
                str(config),
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()

    def _wait(self, engine: Engine) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert engine.process is not None
            if engine.process.poll() is not None:
                tail = (engine.folder / "dockerd.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"dockerd {engine.name} exited: {tail}")
            with contextlib.suppress(Exception):
                client = engine.client()
                client.ping()
                client.close()
                return
            time.sleep(0.2)
        raise RuntimeError(f"dockerd {engine.name} did not answer in {START_TIMEOUT:g}s")

    def stop(self) -> None:
        """Everything `start` made, in reverse; each step runs even if another fails."""
        for engine in self.engines:
            self._stop_engine(engine)
        for option, device in self.rules:
            _run("iptables", "-D", "DOCKER-USER", option, device, "-j", "ACCEPT", check=False)
        self.rules.clear()
        for engine in self.engines:
            _run("ip", "netns", "del", engine.netns, check=False)
            _run("ip", "link", "del", f"sqmhv{engine.name}", check=False)
        if self.made_bridge:
            _run("ip", "link", "del", BRIDGE, check=False)
            self.made_bridge = False
        for engine in self.engines:
            _unmount_under(engine.folder)
            _unmount_under(RUN / engine.name)
            shutil.rmtree(engine.folder, ignore_errors=True)
            shutil.rmtree(RUN / engine.name, ignore_errors=True)
            for leftover in (engine.socket, RUN / f"{engine.name}.pid"):
                leftover.unlink(missing_ok=True)
        for folder in (ROOT, RUN):
            with contextlib.suppress(OSError):
                folder.rmdir()

    def _stop_engine(self, engine: Engine) -> None:
        process = engine.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(Exception):
            client = engine.client()
            for container in client.containers(all=True):
                client.remove_container(container["Id"], force=True)
            with contextlib.suppress(Exception):
                client.leave_swarm(force=True)
            client.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT)


def _run_bytes(*argv: str) -> bytes:
    done = subprocess.run(argv, capture_output=True, check=True)
    return done.stdout


def _unmount_under(folder: Path) -> None:
    """Mounts dockerd left below `folder` (deepest first), so the folder can go."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    prefix = str(folder) + "/"
    points = sorted(
        (line.split()[1] for line in mounts if line.split()[1].startswith(prefix)),
        key=len,
        reverse=True,
    )
    for point in points:
        _run("umount", "-l", point, check=False)
