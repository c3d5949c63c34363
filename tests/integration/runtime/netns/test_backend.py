"""The netns backend on the real kernel: names, networks, faults, 50 services, crashes.

Every cluster gets a project name of its own (`sqn<random>`), so its namespaces,
bridges and chains are named apart from anything else on the host; traffic flows only
between the test's own namespaces, and every loop is bounded. Each cluster is taken
down in the fixture's finalizer, which also checks that nothing is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from squall.faults.model import Shape
from squall.faults.partition import groups_partition
from squall.runtime.base import Action, ServiceState, Waits
from squall.runtime.netns import naming
from squall.runtime.netns.backend import NetnsBackend
from squall.runtime.netns.config import SupervisorConfig, find_supervisors
from squall.runtime.netns.spawn import spawn
from squall.runtime.select import choose_backend, make_backend
from squall.session import ClusterRef, Session
from squall.spec.loader import load_cluster
from squall.units import parse_duration

pytestmark = pytest.mark.integration

IDLE = """["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]"""


def _need(condition: bool, reason: str) -> None:
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@dataclass
class Cluster:
    project: str
    file: Path
    backend: NetnsBackend
    state_root: Path

    @property
    def spec(self):  # type: ignore[no-untyped-def]
        return load_cluster(self.file, project=self.project)

    def up(self) -> None:
        self.backend.up(self.spec)

    def session(self) -> Session:
        return Session.create(ClusterRef(self.project, self.spec), self.backend, self.state_root)

    def status(self) -> dict[str, ServiceState]:
        return {s.service: s for s in self.backend.status(self.project)}

    def ip(self, service: str, network: str) -> str:
        for address in self.status()[service].addresses:
            if address.network == network and address.ip:
                return address.ip
        raise AssertionError(f"{service} has no address on {network}")

    def run(
        self, service: str, *argv: str, timeout: float = 10
    ) -> subprocess.CompletedProcess[str]:
        """`argv` inside the service's namespaces (what `squall exec` does), captured."""
        config = SupervisorConfig.read(self.backend.paths(self.project).config)
        assert config is not None
        proc = spawn(
            config.services[service].launch.with_argv(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        return subprocess.CompletedProcess(argv, proc.returncode, out.decode(), err.decode())

    def reaches(self, source: str, target: str) -> bool:
        return self.run(source, "ping", "-c1", "-W1", target).returncode == 0

    def resolves(self, source: str, name: str) -> str | None:
        result = self.run(source, "getent", "hosts", name)
        return result.stdout.split()[0] if result.returncode == 0 else None


def leftovers(project: str) -> list[str]:
    """Everything of `project` the kernel still holds, found the way `down` finds it."""
    found = [n for n in os.listdir(naming.NETNS_DIR) if naming.service_of_netns(project, n)]
    links = json.loads(subprocess.run(["ip", "-j", "link", "show"], capture_output=True).stdout)
    prefix = naming.link_prefix(project)
    found += [link["ifname"] for link in links if link["ifname"].startswith(prefix)]
    chain = naming.chain_name(project)
    for table in ("filter", "nat"):
        saved = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True)
        if chain in saved.stdout:
            found.append(f"{table}:{chain}")
    found += [f"supervisor {pid}" for pid in find_supervisors(project)]
    return found


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    _need(os.geteuid() == 0, "the netns backend needs root")
    _need(
        all(shutil.which(t) for t in ("ip", "iptables-restore", "ping", "ncat", "getent")),
        "needs ip, iptables, ping, ncat, getent",
    )
    made: list[Cluster] = []

    def make(compose: str, *, name: str = "") -> Cluster:
        project = f"sqn{name}{secrets.token_hex(3)}"
        directory = tmp_path / project
        directory.mkdir()
        file = directory / "compose.yaml"
        file.write_text(textwrap.dedent(compose))
        state = tmp_path / "state"
        cluster = Cluster(project, file, NetnsBackend(state, Waits(stop=3)), state)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.backend.down(cluster.project)
        assert leftovers(cluster.project) == []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_names_multihoming_isolation_ports_and_networks(
    make_cluster: Callable[..., Cluster],
) -> None:
    port = free_port()
    cluster = make_cluster(
        f"""
        services:
          c1:
            image: ignored
            command: {IDLE}
            networks: [front, back]
          c2:
            image: ignored
            command: ["ncat", "-lk", "2000", "--exec", "/bin/cat"]
            networks:
              front:
                aliases: [web]
            ports: ["127.0.0.1:{port}:2000"]
          c3:
            image: ignored
            command: {IDLE}
            networks: [back]
        networks:
          front: {{}}
          back:
            internal: true
        """
    )
    cluster.up()
    states = cluster.status()
    assert {n: s.state for n, s in states.items()} == {n: "running" for n in ("c1", "c2", "c3")}
    assert sorted(a.network for a in states["c1"].addresses) == ["back", "front"]
    assert [a.network for a in states["c2"].addresses] == ["front"]
    for state in states.values():
        assert state.netns == naming.netns_path(cluster.project, state.service)
        assert state.pid and os.path.exists(f"/proc/{state.pid}")
    assert states["c2"].ports == (f"127.0.0.1:{port}->2000/tcp",)

    # Names: by service name and alias, on shared networks only.
    assert cluster.resolves("c1", "c2") == cluster.ip("c2", "front")
    assert cluster.resolves("c1", "web") == cluster.ip("c2", "front")
    assert cluster.resolves("c1", "c3") == cluster.ip("c3", "back")
    assert cluster.resolves("c2", "c3") is None
    assert cluster.resolves("c3", "web") is None
    assert cluster.run("c1", "hostname").stdout.strip() == "c1"

    # Traffic: multi-homed c1 reaches both; c2 and c3 share no network, not even by IP.
    assert cluster.reaches("c1", "c2") and cluster.reaches("c1", "c3")
    assert not cluster.reaches("c2", cluster.ip("c3", "back"))
    assert not cluster.reaches("c3", cluster.ip("c2", "front"))
    echo = cluster.run("c1", "sh", "-c", "(echo via-alias; sleep 0.3) | ncat --wait 2 web 2000")
    assert echo.stdout == "via-alias\n"
    # The internal network has no way out: no default route, no gateway on the host.
    assert "default" not in cluster.run("c3", "ip", "route").stdout
    assert "default" in cluster.run("c2", "ip", "route").stdout

    # Published port: from the host's loopback into c2's namespace.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"via-port\n")
        conn.settimeout(5)
        assert conn.recv(100) == b"via-port\n"

    # Networks made and joined at run time; hosts files follow at once.
    backend, project = cluster.backend, cluster.project
    side = backend.create_network(project, "side", subnet="10.231.99.0/24")
    assert side.subnets == ("10.231.99.0/24",)
    backend.connect(project, "side", "c3", aliases=["db"])
    backend.connect(project, "side", "c2")
    assert cluster.resolves("c2", "db") == cluster.ip("c3", "side")
    assert cluster.reaches("c2", "db")
    nets = {n.name: n for n in backend.networks(project)}
    assert sorted(nets) == ["back", "front", "side"]
    assert nets["side"].services == ("c2", "c3")
    backend.disconnect(project, "side", "c2")
    assert cluster.resolves("c2", "db") is None
    assert not cluster.reaches("c2", "10.231.99.2")
    with pytest.raises(Exception, match="in use by c3"):
        backend.remove_network(project, "side")
    backend.disconnect(project, "side", "c3")
    backend.remove_network(project, "side")
    assert "side" not in {n.name for n in backend.networks(project)}

    # `up` again changes nothing that runs.
    pids = {n: s.pid for n, s in cluster.status().items()}
    cluster.up()
    assert {n: s.pid for n, s in cluster.status().items()} == pids


UDP_UPPER = (
    "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('', 2001));"
    " [s.sendto(d.upper(), a) for d, a in iter(lambda: s.recvfrom(2048), None)]"
)


def test_udp_port_relays_each_client_both_ways(make_cluster: Callable[..., Cluster]) -> None:
    port = free_port()
    cluster = make_cluster(
        f"""
        x-squall: {{backend: netns}}
        services:
          upper:
            command: ["{sys.executable}", "-c", "{UDP_UPPER}"]
            ports: ["127.0.0.1:{port}:2001/udp"]
        """
    )
    cluster.up()
    assert cluster.status()["upper"].ports == (f"127.0.0.1:{port}->2001/udp",)
    clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        for client in clients:
            client.settimeout(0.5)
        answers: dict[int, bytes] = {}
        for _attempt in range(20):  # UDP: the service may not be listening yet
            for n, client in enumerate(clients):
                if n not in answers:
                    client.sendto(f"client {n}".encode(), ("127.0.0.1", port))
            for n, client in enumerate(clients):
                with contextlib.suppress(TimeoutError):
                    answers[n] = client.recv(100)
            if len(answers) == len(clients):
                break
        assert answers == {0: b"CLIENT 0", 1: b"CLIENT 1"}  # each got its own answer
    finally:
        for client in clients:
            client.close()


def test_partition_and_delay_through_the_session(make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(
        f"""
        services:
          a: {{image: x, command: {IDLE}}}
          b: {{image: x, command: {IDLE}}}
          c: {{image: x, command: {IDLE}}}
        """
    )
    session = cluster.session()
    session.up()
    assert cluster.reaches("a", "b") and cluster.reaches("a", "c")

    session.partition(groups_partition([["a"], ["b", "c"]]))
    assert not cluster.reaches("a", "b")
    assert not cluster.reaches("c", "a")
    assert cluster.reaches("b", "c")
    session.join()
    assert cluster.reaches("a", "b")

    session.shape(["a"], Shape(delay=parse_duration("100ms")), to_services=["b"])
    rtt = _rtt_ms(cluster.run("a", "ping", "-c2", "-i0.2", "-W2", "b").stdout)
    assert rtt >= 95, rtt
    assert _rtt_ms(cluster.run("a", "ping", "-c2", "-i0.2", "-W2", "c").stdout) < 50
    session.fast(["a"])
    assert _rtt_ms(cluster.run("a", "ping", "-c2", "-i0.2", "-W2", "b").stdout) < 50

    # A restarted service keeps its namespace, so the partition survives the restart.
    session.partition(groups_partition([["a"], ["b", "c"]]))
    session.act(["a"], Action.RESTART)
    assert not cluster.reaches("a", "b")
    session.down()


def _rtt_ms(ping_output: str) -> float:
    for line in ping_output.splitlines():
        if line.startswith(("rtt", "round-trip")):
            return float(line.split("=")[1].split("/")[1])
    raise AssertionError(f"no rtt in {ping_output!r}")


def test_fifty_services_up_reach_each_other_and_go(make_cluster: Callable[..., Cluster]) -> None:
    count = 50
    lines = ["services:"]
    for i in range(count):
        lines += [f"  s{i}:", "    image: x", f"    command: {IDLE}"]
    cluster = make_cluster("\n".join(lines) + "\n", name="fifty")
    started = time.perf_counter()
    cluster.up()
    elapsed = time.perf_counter() - started
    states = cluster.status()
    assert len(states) == count and all(s.state == "running" for s in states.values())
    assert elapsed < 10, f"50 services took {elapsed:.2f}s to come up"

    # Reachability, by name, around a ring (all pings at once; one second bound each).
    config = SupervisorConfig.read(cluster.backend.paths(cluster.project).config)
    assert config is not None
    pings = [
        spawn(
            config.services[f"s{i}"].launch.with_argv(
                ["ping", "-c1", "-W2", f"s{(i + 1) % count}"]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(count)
    ]
    codes = [p.wait(timeout=15) for p in pings]
    assert codes == [0] * count

    cluster.backend.down(cluster.project)
    assert leftovers(cluster.project) == []


def test_kill_9_of_a_service_restart_policy_and_crash(make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(
        f"""
        services:
          keeper:
            image: x
            command: {IDLE}
            restart: always
          once:
            image: x
            command: {IDLE}
        """
    )
    cluster.up()
    before = cluster.status()
    keeper, once = before["keeper"].pid, before["once"].pid
    assert keeper is not None and once is not None
    os.kill(keeper, signal.SIGKILL)
    os.kill(once, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while True:
        now = cluster.status()
        if now["keeper"].state == "running" and now["keeper"].pid != before["keeper"].pid:
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.05)
    assert now["once"].state == "exited" and now["once"].netns is None
    # The crashed one's namespace is still there (addresses kept); `start` brings it back.
    assert now["once"].addresses == before["once"].addresses
    cluster.backend.act(cluster.project, ["once"], Action.START)
    assert cluster.status()["once"].state == "running"
    assert cluster.reaches("keeper", "once")


def test_lifecycle_actions_logs_exec_and_settings(
    make_cluster: Callable[..., Cluster], tmp_path: Path
) -> None:
    env_file = tmp_path / "extra.env"
    env_file.write_text("FROM_FILE=yes\n")
    cluster = make_cluster(
        f"""
        services:
          server:
            image: x
            command: ["ncat", "-lk", "2000", "--exec", "/bin/cat"]
            healthcheck:
              test: ["CMD", "nc", "-z", "127.0.0.1", "2000"]
              interval: 200ms
              timeout: 1s
              retries: 10
          client:
            image: x
            depends_on:
              server: {{condition: service_healthy}}
            working_dir: /tmp
            user: nobody
            env_file: [{env_file}]
            environment: {{GREETING: hello}}
            command: ["sh", "-c", "echo $$GREETING $$FROM_FILE $$(pwd) $$(id -un); exec sleep 600"]
        """
    )
    cluster.up()
    states = cluster.status()
    assert states["server"].health == "healthy"
    assert states["client"].state == "running"
    logs = b""
    deadline = time.monotonic() + 5
    while b"hello" not in logs:
        assert time.monotonic() < deadline, logs
        logs = b"".join(cluster.backend.logs(cluster.project, "client"))
        time.sleep(0.05)
    assert logs.decode().strip() == "hello yes /tmp nobody"

    backend, project = cluster.backend, cluster.project
    backend.act(project, ["client"], Action.PAUSE)
    pid = cluster.status()["client"].pid
    assert cluster.status()["client"].state == "paused"
    assert Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("T")
    backend.act(project, ["client"], Action.UNPAUSE)
    assert cluster.status()["client"].state == "running"
    backend.act(project, ["client"], Action.STOP)
    assert cluster.status()["client"].state == "exited"
    backend.act(project, ["client"], Action.START)
    backend.act(project, ["server"], Action.RESTART)
    after = cluster.status()
    assert after["client"].state == "running" and after["server"].state == "running"
    assert after["server"].pid != states["server"].pid
    backend.act(project, ["client"], Action.KILL, signal="TERM")
    deadline = time.monotonic() + 5
    while cluster.status()["client"].state == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    # exec runs in the service's world: the CLI, as a user types it.
    result = subprocess.run(
        [sys.executable, "-m", "squall", "-f", str(cluster.file), "-p", project,
         "--backend", "netns", "exec", "server", "--", "sh", "-c", "hostname; cat /etc/hosts"],
        capture_output=True, text=True, timeout=30,
        env={**os.environ, "SQUALL_STATE_DIR": str(cluster.state_root)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "server"
    assert "client" in result.stdout


def test_down_after_state_dir_lost_and_supervisor_killed(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(
        f"""
        services:
          a: {{image: x, command: {IDLE}, networks: [n1]}}
          b: {{image: x, command: {IDLE}, networks: [n1, n2]}}
        networks:
          n1: {{}}
          n2: {{internal: true}}
        """
    )
    cluster.up()
    pids = [s.pid for s in cluster.status().values() if s.pid is not None]
    supervisor = find_supervisors(cluster.project)
    assert len(supervisor) == 1
    os.kill(supervisor[0], signal.SIGKILL)  # kill -9 of squall's own process
    time.sleep(0.1)
    # Services outlive it, and status still finds them (unsupervised).
    assert {s.state for s in cluster.status().values()} == {"running"}
    # `up` again: a new supervisor takes over (the old processes are replaced).
    cluster.up()
    assert len(find_supervisors(cluster.project)) == 1
    assert all(not os.path.exists(f"/proc/{pid}/cmdline") or _zombie(pid) for pid in pids)
    assert cluster.reaches("a", "b")

    shutil.rmtree(cluster.state_root / cluster.project)
    fresh = NetnsBackend(cluster.state_root / "elsewhere")
    fresh.down(cluster.project)
    assert leftovers(cluster.project) == []


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith(("Z", "X"))
    except OSError:
        return True


def test_backend_choice_from_the_file_and_for_existing_clusters(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(
        f"""
        x-squall: {{backend: netns}}
        services:
          a: {{command: {IDLE}}}
        """
    )  # no image: the file asks for the netns backend, which runs the command itself
    env = {**os.environ, "SQUALL_STATE_DIR": str(cluster.state_root)}
    base = [sys.executable, "-m", "squall", "-f", str(cluster.file), "-p", cluster.project]
    up = subprocess.run([*base, "up"], capture_output=True, text=True, env=env, timeout=60)
    assert up.returncode == 0, up.stderr
    assert cluster.status()["a"].state == "running"
    notes: list[str] = []
    chosen = choose_backend("auto", project=cluster.project, notice=notes.append)
    assert chosen == "netns" and "runs on it" in notes[0]
    assert make_backend("netns").name == "netns"
    down = subprocess.run([*base, "down"], capture_output=True, text=True, env=env, timeout=60)
    assert down.returncode == 0, down.stderr
    assert leftovers(cluster.project) == []


def test_up_refuses_clearly_and_leaves_nothing(make_cluster: Callable[..., Cluster]) -> None:
    from squall.errors import BackendError

    nothing = make_cluster("services:\n  a: {image: x}\n")
    with pytest.raises(BackendError, match="has no `command:`"):
        nothing.up()
    assert leftovers(nothing.project) == []

    routes = json.loads(subprocess.run(["ip", "-j", "-4", "route"], capture_output=True).stdout)
    routed = next(r["dst"] for r in routes if r.get("dst", "default") != "default")
    clash = make_cluster(
        f"""
        services:
          a: {{image: x, command: {IDLE}}}
        networks:
          default:
            ipam: {{config: [{{subnet: "{routed}"}}]}}
        """
    )
    with pytest.raises(BackendError, match="overlaps"):
        clash.up()
    assert leftovers(clash.project) == []

    sick = make_cluster(
        f"""
        services:
          db:
            image: x
            command: {IDLE}
            healthcheck: {{test: ["CMD", "false"], interval: 100ms, retries: 2}}
          app:
            image: x
            command: {IDLE}
            depends_on: {{db: {{condition: service_healthy}}}}
        """
    )
    with pytest.raises(BackendError, match="'db' is unhealthy"):
        sick.up()
    assert {n: s.state for n, s in sick.status().items()} == {"app": "created", "db": "running"}


def test_kill_9_of_squall_mid_up_then_down_leaves_nothing(
    make_cluster: Callable[..., Cluster],
) -> None:
    services = "\n".join(
        f"          s{i}: {{image: x, command: {IDLE}, networks: [n{i % 3}]}}" for i in range(30)
    )
    cluster = make_cluster(
        f"""
        services:
{services}
        networks:
          n0: {{}}
          n1: {{}}
          n2: {{internal: true}}
        """
    )
    argv = [sys.executable, "-m", "squall", "--backend", "netns", "-f", str(cluster.file),
            "-p", cluster.project, "up"]  # fmt: skip
    env = {**os.environ, "SQUALL_STATE_DIR": str(cluster.state_root)}
    cli = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 20
    while not leftovers(cluster.project):
        assert cli.poll() is None, "up finished before anything could be interrupted"
        assert time.monotonic() < deadline, "up never created anything"
        time.sleep(0.01)
    cli.kill()  # kill -9 of the squall command, half-way through `up`
    cli.wait(10)
    assert leftovers(cluster.project), "the interrupted up left something for down to find"

    down = subprocess.run(
        [sys.executable, "-m", "squall", "--backend", "netns", "-p", cluster.project, "down"],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert down.returncode == 0, down.stderr
    assert leftovers(cluster.project) == []
