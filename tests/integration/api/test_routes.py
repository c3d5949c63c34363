"""Every route of `squall serve` on a real cluster: right answers, and bad requests that
are refused with the right status and a clear message, changing nothing."""

from __future__ import annotations

import json
import os
import re
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.api.conftest import Served, start_server, stop_server

pytestmark = pytest.mark.docker

CHANGES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/actions", {"action": "pause", "services": ["b"]}),
    ("POST", "/shapes", {"services": ["a"], "delay": "50ms"}),
    ("POST", "/presets/slow", {"services": ["a"]}),
    ("PUT", "/partition", {"groups": [["a"], ["b", "c"]]}),
    ("DELETE", "/partition", None),
    ("POST", "/probe", {}),
    ("POST", "/up", {}),
    ("POST", "/down", {}),
]
BLOCKADE_CHANGES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "", None),
    ("DELETE", "", None),
    ("POST", "/action", {"command": "stop", "container_names": ["b"]}),
    ("POST", "/network_state", {"network_state": "slow", "container_names": ["b"]}),
    ("POST", "/partitions", {"partitions": [["a"], ["b", "c"]]}),
    ("DELETE", "/partitions", None),
]


def snapshot(served: Served) -> tuple[str, int]:
    """What a refused request must not change: the cluster's status, its event log."""
    status = httpx.get(f"{served.api}/status", timeout=30).json()
    for service in status["services"]:
        service.pop("pid", None)
    status.pop("shaper", None)
    return json.dumps(status, sort_keys=True), len(served.events())


@pytest.fixture
def unchanged(served: Served) -> Iterator[None]:
    before = snapshot(served)
    yield
    assert snapshot(served) == before


@pytest.fixture(autouse=True)
def healed(served: Served) -> Iterator[None]:
    """Each test starts from a cluster without faults."""
    yield
    with served.client() as http:
        if http.get(f"{served.api}/partition").json()["cuts"]:
            http.delete(f"{served.api}/partition").raise_for_status()
        shaped = list(http.get(f"{served.api}/shapes").json())
        if shaped:
            http.post(f"{served.api}/presets/fast", json={"services": shaped}).raise_for_status()


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "type", "service"}
    message = body["error"]
    assert isinstance(message, str)
    assert "\n" not in message and message
    return message


# ---- auth -------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), CHANGES)
def test_a_change_without_the_token_is_401_and_changes_nothing(
    served: Served, unchanged: None, method: str, path: str, body: dict[str, Any] | None
) -> None:
    with served.client(token=None) as http:
        response = http.request(method, served.api + path, json=body)
    message = error_of(response, 401)
    assert "Bearer" in message and str(served.state_dir.parent / "api-token") in message
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path", "body"), CHANGES)
def test_a_change_with_a_wrong_token_is_403_and_changes_nothing(
    served: Served, unchanged: None, method: str, path: str, body: dict[str, Any] | None
) -> None:
    with served.client(token="not-the-token-at-all") as http:
        response = http.request(method, served.api + path, json=body)
    assert error_of(response, 403) == "wrong API token"


@pytest.mark.parametrize(("method", "path", "body"), BLOCKADE_CHANGES)
def test_blockade_changes_need_the_token_too(
    served: Served, unchanged: None, method: str, path: str, body: dict[str, Any] | None
) -> None:
    url = f"{served.base}/blockade/{served.project}{path}"
    with served.client(token=None) as http:
        assert http.request(method, url, json=body).status_code == 401
    with served.client(token="wrong-token-wrong-token") as http:
        assert http.request(method, url, json=body).status_code == 403


def test_reads_are_open_on_loopback_but_a_wrong_token_is_still_refused(served: Served) -> None:
    with served.client(token=None) as http:
        assert http.get(served.api).status_code == 200
    with served.client(token="wrong-token-wrong-token") as http:
        assert http.get(served.api).status_code == 403


def test_a_foreign_host_header_is_refused(served: Served) -> None:
    with served.client() as http:
        response = http.get(served.api, headers={"Host": "attacker.example:80"})
    assert "Host" in error_of(response, 400)


# ---- reads ------------------------------------------------------------------------


def test_clusters_and_overview(served: Served) -> None:
    with served.client() as http:
        listed = http.get("/api/clusters").json()
        assert listed["clusters"][0]["name"] == served.project
        assert listed["clusters"][0]["file"].endswith("compose.yaml")
        overview = http.get(served.api).json()
        names = {s["service"] for s in overview["status"]["services"]}
        assert names == {"a", "b", "c"}
        assert {n["name"] for n in overview["networks"]} == {"front", "back"}
        assert set(overview["presets"]) == {"slow", "flaky", "duplicate"}
        assert overview["features"]["events"] is True
        message = error_of(http.get(f"{served.base}/api/clusters/nosuch"), 404)
        assert "nosuch" in message and served.project in message


def test_status_is_the_clis(served: Served) -> None:
    with served.client() as http:
        api = http.get(f"{served.api}/status").json()
    cli = served.cli_status()
    assert api["project"] == cli["project"]
    assert [s["service"] for s in api["services"]] == [s["service"] for s in cli["services"]]
    assert [s["addresses"] for s in api["services"]] == [s["addresses"] for s in cli["services"]]
    assert api["partition"] == cli["partition"]


def test_services_networks_presets(served: Served) -> None:
    with served.client() as http:
        services = http.get(f"{served.api}/services").json()
        assert [s["service"] for s in services] == ["a", "b", "c"]
        one = http.get(f"{served.api}/services/a").json()
        assert one["service"] == "a" and one["state"] == "running" and "faults" in one
        message = error_of(http.get(f"{served.api}/services/zz"), 404)
        assert "zz" in message
        networks = http.get(f"{served.api}/networks").json()
        assert {n["name"]: sorted(n["services"]) for n in networks} == {
            "back": ["a", "c"],
            "front": ["a", "b"],
        }
        presets = http.get(f"{served.api}/presets").json()
        assert presets["flaky"] == "30%"


# ---- changes ----------------------------------------------------------------------


def test_actions(served: Served) -> None:
    with served.client() as http:
        done = http.post(f"{served.api}/actions", json={"action": "pause", "services": ["b"]})
        assert done.status_code == 200, done.text
        assert done.json()["services"] == ["b"]
        states = {s["service"]: s["state"] for s in served.cli_status()["services"]}
        assert states["b"] == "paused"
        done = http.post(f"{served.api}/actions", json={"action": "unpause", "services": ["b"]})
        assert done.status_code == 200, done.text
    states = {s["service"]: s["state"] for s in served.cli_status()["services"]}
    assert states["b"] == "running"


def test_bad_actions_change_nothing(served: Served, unchanged: None) -> None:
    with served.client() as http:
        url = f"{served.api}/actions"
        assert "zz" in error_of(http.post(url, json={"action": "stop", "services": ["zz"]}), 404)
        message = error_of(http.post(url, json={"action": "explode", "services": ["a"]}), 422)
        assert message.startswith("action:")
        message = error_of(
            http.post(url, json={"action": "stop", "services": ["a"], "signal": "SIGHUP"}), 422
        )
        assert "kill" in message
        message = error_of(http.post(url, json={"action": "stop"}), 422)
        assert "--all" in message
        message = error_of(http.post(url, content=b"{not json", headers=_json()), 422)
        assert message
        message = error_of(http.post(url, content=b'{"action": "stop"}'), 422)
        assert "Content-Type: application/json" in message


def test_bad_down_changes_nothing(served: Served, unchanged: None) -> None:
    with served.client() as http:
        message = error_of(http.post(f"{served.api}/down", json={"rmi": "all"}), 422)
        assert message.startswith("rmi:")


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def test_shapes(served: Served) -> None:
    with served.client() as http:
        done = http.post(
            f"{served.api}/shapes",
            json={"services": ["a"], "delay": "40ms", "loss": "5%", "to": ["c"]},
        )
        assert done.status_code == 200, done.text
        assert done.json()["message"] == "shaped a: delay 40ms loss 5% (egress) to c"
        shapes = http.get(f"{served.api}/shapes").json()
        assert shapes["a"][0]["to_services"] == ["c"]
        assert shapes["a"][0]["shape"]["delay"] == "40ms"
        cli = {s["service"]: s["faults"]["shapes"] for s in served.cli_status()["services"]}
        assert cli["a"] == ["delay 40ms loss 5% (egress) to c"]
        dry = http.post(
            f"{served.api}/shapes", json={"services": ["b"], "rate": "1mbit", "dry_run": True}
        ).json()
        assert dry["dry_run"] is True and dry["plan"] and "b" not in shapes


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"services": ["a"], "delay": "10 parsecs"}, 422, "--delay 10 parsecs"),
        ({"services": ["a"], "delay": "100"}, 422, "needs a unit"),
        ({"services": ["a"], "rate": "fast"}, 422, "--rate fast"),
        ({"services": ["a"], "loss": "120%"}, 422, "between 0% and 100%"),
        ({"services": ["a"], "delay": "5ms", "duration": "soon"}, 422, "--duration soon"),
        ({"services": ["zz"], "delay": "5ms"}, 404, "no service 'zz'"),
        ({"services": ["a"], "delay": "5ms", "to": ["nosuch"]}, 422, "nosuch"),
        ({"services": ["a"], "delay": "5ms", "direction": "sideways"}, 422, "direction"),
        ({"services": ["a"], "delay": "5ms", "colour": "red"}, 422, "colour"),
    ],
)
def test_bad_shapes_change_nothing(
    served: Served, unchanged: None, body: dict[str, Any], status: int, words: str
) -> None:
    with served.client() as http:
        assert words in error_of(http.post(f"{served.api}/shapes", json=body), status)


def test_presets(served: Served) -> None:
    with served.client() as http:
        done = http.post(f"{served.api}/presets/flaky", json={"services": ["b"]})
        assert done.status_code == 200, done.text
        assert done.json()["message"] == "flaky: b (30%)"
        cli = {s["service"]: s["faults"]["shapes"] for s in served.cli_status()["services"]}
        assert cli["b"] == ["flaky: loss 30% (egress)"]
        done = http.post(f"{served.api}/presets/fast", json={"services": ["b"]})
        assert done.status_code == 200, done.text
    cli = {s["service"]: s["faults"]["shapes"] for s in served.cli_status()["services"]}
    assert cli["b"] == []


def test_bad_presets_change_nothing(served: Served, unchanged: None) -> None:
    with served.client() as http:
        assert "preset" in error_of(
            http.post(f"{served.api}/presets/stormy", json={"services": ["a"]}), 422
        )
        assert "zz" in error_of(
            http.post(f"{served.api}/presets/slow", json={"services": ["zz"]}), 404
        )


def test_partition_and_join(served: Served) -> None:
    with served.client() as http:
        done = http.put(f"{served.api}/partition", json={"groups": [["a"], ["b", "c"]]})
        assert done.status_code == 200, done.text
        assert done.json()["message"] == "partition (groups): a | b,c"
        cli = served.cli_status()
        assert cli["partition"]["groups"] == [["a"], ["b", "c"]]
        assert http.get(f"{served.api}/partition").json() == cli["partition"]
        done = http.put(f"{served.api}/partition", json={"isolate": ["c"]})
        assert done.status_code == 200, done.text
        assert {s["service"]: s["faults"]["cannot_reach"] for s in served.cli_status()["services"]}[
            "c"
        ] == ["a", "b"]
        done = http.delete(f"{served.api}/partition")
        assert done.status_code == 200, done.text
    assert served.cli_status()["partition"]["cuts"] == []


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"groups": [["a"], ["zz"]]}, 404, "zz"),
        ({"groups": [["a"], ["b"]], "random": True}, 422, "exclude each other"),
        ({"isolate": ["zz"]}, 404, "zz"),
        ({"shape": "triangle"}, 422, "shape"),
        ({}, 422, "give groups"),
    ],
)
def test_bad_partitions_change_nothing(
    served: Served, unchanged: None, body: dict[str, Any], status: int, words: str
) -> None:
    with served.client() as http:
        assert words in error_of(http.put(f"{served.api}/partition", json=body), status)


# ---- probe ------------------------------------------------------------------------


def test_probe(served: Served) -> None:
    with served.client() as http:
        http.put(f"{served.api}/partition", json={"groups": [["a"], ["b", "c"]]}).raise_for_status()
        done = http.post(f"{served.api}/probe", json={"count": 5, "timeout": 0.5})
        assert done.status_code == 200, done.text
        report = done.json()
        pairs = {(p["src"], p["dst"]): p for p in report["pairs"]}
        assert pairs[("a", "b")]["partitioned"] and pairs[("a", "b")]["loss"] == 1.0
        assert pairs[("a", "c")]["loss"] == 1.0
        assert ("b", "c") not in pairs  # they share no network
        assert http.get(f"{served.api}/probe").json() == report
        assert (served.state_dir / "probe-latest.json").stat().st_mode & 0o077 == 0


def test_bad_probes_change_nothing(served: Served, unchanged: None) -> None:
    with served.client() as http:
        assert "count" in error_of(http.post(f"{served.api}/probe", json={"count": 0}), 422)
        assert "zz" in error_of(http.post(f"{served.api}/probe", json={"services": ["zz"]}), 404)


# ---- events -----------------------------------------------------------------------


def test_chaos_start_status_stop(served: Served) -> None:
    with served.client() as http:
        url = f"{served.api}/chaos"
        assert http.get(url).json() == {"running": False, "pid": None, "seed": None}
        body = {"duration": "1m", "seed": 5, "events": "slow", "interval": "0.5s..1s",
                "hold": "1s..2s"}  # fmt: skip
        assert served.client(token=None).post(url, json=body).status_code == 401
        started = http.post(url, json=body)
        assert started.status_code == 200, started.text
        assert started.json()["running"] and started.json()["seed"] == 5
        assert http.get(url).json()["pid"] == started.json()["pid"]
        assert "already" in error_of(http.post(url, json=body), 409)
        deadline = time.monotonic() + 20
        while not any(json.loads(line)["who"] == "chaos" for line in served.events()):
            assert time.monotonic() < deadline, "the chaos run changed nothing"
            time.sleep(0.3)
        assert http.delete(url).json()["running"] is False
        assert http.get(url).json()["running"] is False
    status = served.cli_status()
    assert all(not s["faults"]["shapes"] for s in status["services"]), "chaos stop heals"


def test_bad_chaos_changes_nothing(served: Served, unchanged: None) -> None:
    with served.client() as http:
        url = f"{served.api}/chaos"
        assert "interval" in error_of(http.post(url, json={"interval": "soon"}), 422)
        assert "duration" in error_of(http.post(url, json={"duration": "forever"}), 422)
        assert http.get(url).json()["running"] is False


def _ping(served: Served, src: str, dst: str, count: int = 10) -> tuple[int, list[float]]:
    out = served.squall(
        "exec", "-T", src, "--", "ping", "-n", "-c", str(count), "-i", "0.1", "-W", "1", dst,
        check=False,
    ).stdout  # fmt: skip
    received = re.search(r"(\d+) packets received", out)
    assert received, out
    return int(received[1]), [float(m) for m in re.findall(r"time=([\d.]+) ms", out)]


def test_chaos_puts_back_the_faults_in_force_before_it(served: Served) -> None:
    with served.client() as http:
        http.put(f"{served.api}/partition", json={"isolate": ["c"]}).raise_for_status()
        shape = {"services": ["a"], "delay": "40ms", "to": ["b"]}
        http.post(f"{served.api}/shapes", json=shape).raise_for_status()
        before = (
            http.get(f"{served.api}/partition").json(),
            http.get(f"{served.api}/shapes").json(),
        )
        body = {"duration": "1m", "seed": 3, "events": "slow,isolate", "interval": "0.2s..0.4s",
                "hold": "0.5s..1s", "at_once": "1..2"}  # fmt: skip
        started = http.post(f"{served.api}/chaos", json=body)
        assert started.status_code == 200, started.text
        deadline = time.monotonic() + 30
        heals = ("join", "fast", "restore", "partition")
        while sum(json.loads(e)["who"] == "chaos" and json.loads(e)["what"] in heals
                  for e in served.events()) < 2:  # fmt: skip
            assert time.monotonic() < deadline, "the chaos run never ended a round"
            time.sleep(0.3)
        assert http.delete(f"{served.api}/chaos").json()["running"] is False
        after = (
            http.get(f"{served.api}/partition").json(),
            http.get(f"{served.api}/shapes").json(),
        )
    assert after == before
    assert _ping(served, "a", "c", 5)[0] == 0, "the partition from before chaos is gone"
    received, rtts = _ping(served, "a", "b")
    assert received == 10 and statistics.median(rtts) > 35, rtts


def test_chaos_options_that_cannot_run_are_refused(served: Served, unchanged: None) -> None:
    with served.client() as http:
        url = f"{served.api}/chaos"
        message = error_of(http.post(url, json={"duration": "0s"}), 422)
        assert message == "--duration 0s: must be more than 0"
        message = error_of(http.post(url, json={"at_once": "4..4", "events": "slow"}), 422)
        assert "more than the 3 services" in message
    for args, words in (
        (["--duration", "0s"], "--duration 0s: must be more than 0"),
        (["--at-once", "4", "--events", "slow"], "--at-once 4..4: more than the 3 services"),
    ):
        refused = served.squall("chaos", *args, "--dry-run", check=False)
        errors = [line for line in refused.stderr.splitlines() if "error" in line]
        assert refused.returncode == 2 and len(errors) == 1, refused.stderr
        assert words in errors[0] and "Traceback" not in refused.stderr
    plan = served.squall("chaos", "--at-once", "2..2", "--events", "slow", "--duration", "20s",
                         "--interval", "1s", "--hold", "1s", "--dry-run", "--json")  # fmt: skip
    rounds = json.loads(plan.stdout)["rounds"]
    assert rounds and all(len({tuple(f["targets"]) for f in r["faults"]}) == 2 for r in rounds)


def test_events_page(served: Served) -> None:
    with served.client() as http:
        first = http.get(f"{served.api}/events").json()
        assert first["events"][0]["what"] == "up"
        served.squall("slow", "c")
        later = http.get(f"{served.api}/events", params={"since": first["offset"]}).json()
        assert [(e["who"], e["what"], e["targets"]) for e in later["events"]] == [
            ("cli", "slow", ["c"])
        ]
        assert error_of(http.get(f"{served.api}/events", params={"since": -1}), 422)


def test_event_stream_follows_the_cli(served: Served) -> None:
    got: list[dict[str, Any]] = []
    hello = threading.Event()

    def read() -> None:
        with (
            httpx.Client(timeout=30) as http,
            http.stream("GET", f"{served.api}/events/stream") as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            kind = "message"
            for line in response.iter_lines():
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and kind == "hello":
                    hello.set()
                elif line.startswith("data:"):
                    got.append(json.loads(line[5:]))
                    return
                elif not line:
                    kind = "message"

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert hello.wait(10)
    served.squall("partition", "a", "b,c")
    reader.join(10)
    assert got and got[0]["what"] == "partition" and got[0]["who"] == "cli"


def test_event_stream_needs_a_right_token_if_one_is_given(served: Served) -> None:
    url = f"{served.api}/events/stream"
    assert httpx.get(url, params={"token": "wrong-token-wrong-token"}).status_code == 403


# ---- Blockade's routes ------------------------------------------------------------


def test_blockade_reads(served: Served) -> None:
    with served.client() as http:
        assert http.get("/blockade").json() == {"blockades": [served.project]}
        containers = http.get(f"/blockade/{served.project}").json()["containers"]
        assert set(containers) == {"a", "b", "c"}
        assert containers["a"]["status"] == "UP"
        assert containers["a"]["network_state"] == "NORMAL"
        assert containers["a"]["partition"] is None
        missing = http.get("/blockade/nosuch")
        assert missing.status_code == 404 and "nosuch" in missing.text
        events = http.get(f"/blockade/{served.project}/events").json()["events"]
        assert events[0]["event"] == "up" and events[0]["status"] == "Success"


def test_blockade_chaos(served: Served) -> None:
    url = f"/blockade/{served.project}/chaos"
    options = {
        "min_start_delay": 300, "max_start_delay": 600, "min_run_time": 1000,
        "max_run_time": 2000, "min_containers_at_once": 1, "max_containers_at_once": 1,
        "event_set": ["SLOW"],
    }  # fmt: skip
    with served.client() as http:
        assert http.get(url).status_code == 500  # Blockade: no chaos is associated
        assert http.post(url, json={**options, "event_set": ["EXPLODE"]}).status_code == 500
        assert http.post(url, json={**options, "bogus": 1}).status_code == 500
        assert http.put(url, json=options).status_code == 500  # nothing to update
        assert http.get(url).status_code == 500
        started = http.post(url, json=options)
        assert started.status_code == 201, started.text
        assert started.text == f"Successfully started chaos on {served.project}"
        assert http.get(url).json()["status"]["state"] in ("HEALTHY", "DEGRADED")
        deadline = time.monotonic() + 20
        while http.get(url).json()["status"]["state"] != "DEGRADED":
            assert time.monotonic() < deadline, "chaos never degraded the cluster"
            time.sleep(0.2)
        updated = http.put(url, json={**options, "event_set": ["FLAKY"]})
        assert updated.status_code == 200, updated.text
        deleted = http.delete(url)
        assert deleted.status_code == 200 and deleted.text.startswith("Deleted chaos")
        assert http.get(url).status_code == 500
        assert http.delete(url).status_code == 500
    status = served.cli_status()
    assert all(not s["faults"]["shapes"] for s in status["services"]), "deleting chaos heals"


def test_blockade_changes(served: Served) -> None:
    name = served.project
    with served.client() as http:
        r = http.post(
            f"/blockade/{name}/network_state",
            json={"network_state": "slow", "container_names": ["b"]},
        )
        assert r.status_code == 204, r.text
        r = http.post(f"/blockade/{name}/partitions", json={"partitions": [["a"], ["b", "c"]]})
        assert r.status_code == 204, r.text
        containers = http.get(f"/blockade/{name}").json()["containers"]
        assert containers["b"]["network_state"] == "SLOW"
        assert (containers["a"]["partition"], containers["b"]["partition"]) == (1, 2)
        assert served.cli_status()["partition"]["groups"] == [["a"], ["b", "c"]]
        r = http.post(
            f"/blockade/{name}/action", json={"command": "stop", "container_names": ["c"]}
        )
        assert r.status_code == 204, r.text
        assert http.get(f"/blockade/{name}").json()["containers"]["c"]["status"] == "DOWN"
        r = http.post(
            f"/blockade/{name}/action", json={"command": "start", "container_names": ["c"]}
        )
        assert r.status_code == 204, r.text
        assert http.delete(f"/blockade/{name}/partitions").status_code == 204
        r = http.post(
            f"/blockade/{name}/network_state",
            json={"network_state": "fast", "container_names": ["b"]},
        )
        assert r.status_code == 204, r.text
        assert (
            http.post(f"/blockade/{name}/partitions", params={"random": "true"}).status_code == 204
        )
    status = served.cli_status()
    assert status["partition"]["kind"] != "none"
    assert {s["service"]: s["state"] for s in status["services"]}["c"] == "running"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("POST", "/action", {"command": "fly", "container_names": ["a"]}, 400, "not an action"),
        ("POST", "/action", {"container_names": ["a"]}, 400, "command"),
        ("POST", "/action", {"command": "stop", "container_names": ["zz"]}, 500, "zz"),
        ("POST", "/network_state", {"network_state": "wet", "container_names": ["a"]}, 400, "wet"),
        ("POST", "/partitions", {}, 400, "partitions"),
        ("POST", "/partitions", {"partitions": [["a"], ["zz"]]}, 500, "zz"),
        ("PUT", "", {"containers": ["abc"]}, 400, "not supported"),
    ],
)
def test_blockade_bad_input_changes_nothing(
    served: Served,
    unchanged: None,
    method: str,
    path: str,
    body: dict[str, Any],
    status: int,
    words: str,
) -> None:
    with served.client() as http:
        r = http.request(method, f"/blockade/{served.project}{path}", json=body)
    assert r.status_code == status, r.text
    assert words in r.text and r.headers["content-type"].startswith("text/plain")


# ---- the server itself -----------------------------------------------------------


def test_state_and_token_survive_a_restart_and_an_open_stream_does_not_hold_it(
    served: Served,
) -> None:
    first, url = start_server(served.squall)
    try:
        base = url.split("/?", 1)[0]
        assert url.endswith(f"?token={served.token}")  # the token file is reused
        headers = {"Authorization": f"Bearer {served.token}"}
        api = f"{base}/api/clusters/{served.project}"
        httpx.put(f"{api}/partition", json={"isolate": ["b"]}, headers=headers).raise_for_status()
        with httpx.stream("GET", f"{api}/events/stream", timeout=30) as stream:
            assert stream.status_code == 200
            started = time.monotonic()
            stop_server(first)
            assert time.monotonic() - started < 10
    finally:
        stop_server(first)
    second, url = start_server(served.squall)
    try:
        base = url.split("/?", 1)[0]
        partition = httpx.get(f"{base}/api/clusters/{served.project}/partition").json()
        assert partition["kind"] == "isolate" or partition["groups"]
        assert {tuple(c[:2]) for c in partition["cuts"]} >= {("a", "b"), ("b", "a")}
    finally:
        stop_server(second)
    mode = (served.state_dir.parent / "api-token").stat().st_mode
    assert mode & 0o777 == 0o600


def test_a_reachable_address_needs_a_token_file(served: Served, tmp_path: Path) -> None:
    refused = served.squall("serve", "--host", "0.0.0.0", "--port", "0", check=False)
    assert refused.returncode == 2
    assert "--token-file" in refused.stderr and refused.stderr.count("\n") == 1
    token_file = tmp_path / "token"
    process, url = start_server(served.squall, "--host", "0.0.0.0", "--token-file", str(token_file))
    try:
        token = token_file.read_text().strip()
        assert token != served.token and token_file.stat().st_mode & 0o777 == 0o600
        local = url.split("/?", 1)[0].replace("0.0.0.0", "127.0.0.1")
        clusters = f"{local}/api/clusters"
        assert httpx.get(clusters).status_code == 401  # reads need the token here
        assert httpx.get(clusters, headers={"Authorization": f"Bearer {token}"}).is_success
        assert httpx.get(clusters, params={"token": token}).is_success
    finally:
        stop_server(process)


# ---- the whole cluster (last: it takes the cluster down and up again) ------------


def test_openapi_document(served: Served) -> None:
    document = httpx.get(f"{served.base}/openapi.json").json()
    paths = document["paths"]
    for path in (
        "/api/clusters/{name}/shapes",
        "/api/clusters/{name}/partition",
        "/api/clusters/{name}/events/stream",
        "/blockade/{name}/network_state",
    ):
        assert path in paths
    assert "token" in document["components"]["securitySchemes"]


def test_down_stops_a_chaos_run(served: Served) -> None:
    with served.client() as http:
        body = {"duration": "5m", "events": "slow", "interval": "1s..2s", "hold": "1s..2s"}
        pid = http.post(f"{served.api}/chaos", json=body).json()["pid"]
    served.squall("down")
    assert (
        not Path(f"/proc/{pid}").exists() or "chaos" not in Path(f"/proc/{pid}/cmdline").read_text()
    )
    served.squall("up")


def test_down_and_up_again(served: Served) -> None:
    token_file = served.state_dir.parent / "api-token"
    with served.client() as http:
        done = http.post(f"{served.api}/down", json={})
        assert done.status_code == 200, done.text
        states = {s["service"]: s["state"] for s in served.cli_status()["services"]}
        assert set(states.values()) == {"missing"}
        assert http.post(f"/blockade/{served.project}").status_code == 204
        assert {s["state"] for s in served.cli_status()["services"]} == {"running"}
        assert http.delete(f"/blockade/{served.project}").status_code == 204
        # The token is the server's: DELETE and down leave it, and it still works.
        assert token_file.read_text().strip() == served.token
        done = http.post(f"{served.api}/up", json={})
        assert done.status_code == 200, done.text
        assert done.json()["services"] == ["a", "b", "c"]
    assert {s["state"] for s in served.cli_status()["services"]} == {"running"}
    assert os.stat(token_file).st_mode & 0o777 == 0o600
