"""The API on a fake backend: auth, errors and documents, without Docker or root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from squall.api import ApiContext, AuthPolicy, create_app
from squall.ops.opening import Where
from tests.unit.fakes import FakeBackend

TOKEN = "unit-test-token-0123456789"
COMPOSE = """\
name: unit
services:
  a: {image: busybox}
  b: {image: busybox}
"""


def make_client(
    tmp_path: Path, *, reads_need_token: bool = False, every_cluster: bool = False
) -> TestClient:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    where = Where.of_file(
        tmp_path / "compose.yaml", project="unit", cwd=tmp_path, state_root=tmp_path / "state"
    )
    context = ApiContext(where, FakeBackend(), every_cluster=every_cluster)
    app = create_app(
        context,
        AuthPolicy(TOKEN, reads_need_token=reads_need_token),
        allowed_hosts=("testserver", "127.0.0.1"),
    )
    return TestClient(app)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path) as found:
        yield found


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_changes_need_the_token(client: TestClient) -> None:
    body = {"groups": [["a"], ["b"]]}
    response = client.put("/api/clusters/unit/partition", json=body)
    assert response.status_code == 401
    assert response.json()["type"] == "AuthFailed"
    assert response.headers["www-authenticate"] == "Bearer"
    response = client.put(
        "/api/clusters/unit/partition", json=body, headers={"Authorization": "Bearer nope"}
    )
    assert (response.status_code, response.json()["error"]) == (403, "wrong API token")
    assert client.post("/blockade/unit/partitions", json={"partitions": []}).status_code == 401


def test_reads_are_open_on_loopback_only(tmp_path: Path, client: TestClient) -> None:
    assert client.get("/api/clusters").status_code == 200
    with make_client(tmp_path / "far", reads_need_token=True) as far:
        assert far.get("/api/clusters").status_code == 401
        assert far.get("/api/clusters", headers=AUTH).status_code == 200
        assert far.get("/api/clusters", params={"token": TOKEN}).status_code == 200
        assert far.get("/api/clusters", params={"token": "bad"}).status_code == 403


def test_errors_are_one_line_with_the_right_status(client: TestClient) -> None:
    cases = [
        ("post", "/api/clusters/other/shapes", {"services": ["a"], "delay": "1ms"}, 404, "other"),
        ("post", "/api/clusters/unit/shapes", {"services": ["zz"], "delay": "1ms"}, 404, "'zz'"),
        ("post", "/api/clusters/unit/shapes", {"services": ["a"], "delay": "1 fortnight"}, 422,
         "--delay 1 fortnight"),
        ("post", "/api/clusters/unit/presets/slow", {"services": []}, 422, "--all"),
        ("put", "/api/clusters/unit/partition", {"groups": [["a"], ["zz"]]}, 404, "'zz'"),
        ("post", "/api/clusters/unit/actions", {"action": "fly"}, 422, "action:"),
    ]  # fmt: skip
    for method, path, body, status, words in cases:
        response = client.request(method, path, json=body, headers=AUTH)
        assert response.status_code == status, (path, response.text)
        message = response.json()["error"]
        assert words in message and "\n" not in message


def test_blockade_answers_in_text(client: TestClient) -> None:
    response = client.get("/blockade/other")
    assert response.status_code == 404
    assert response.text == "no cluster 'other' here; this server serves 'unit'"
    response = client.post(
        "/blockade/unit/action", json={"command": "fly", "container_names": ["a"]}, headers=AUTH
    )
    assert response.status_code == 400
    assert response.text == "'fly' is not an action (start, stop, restart, kill, pause, unpause)"
    assert client.get("/blockade").json() == {"blockades": ["unit"]}


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "words"),
    [
        ("post", "/action", b'{"command": "stop", "container_names": ["a"]}',
         {"Content-Type": "text/plain"}, 415, "application/json"),
        ("post", "/action", b'{"command": "stop", "container_names": ["a"]}', {}, 400,
         "Content-Type"),
        ("post", "/action", b"{not json", {"Content-Type": "application/json"}, 400, "not JSON"),
        ("post", "/action", b'{"command": "stop"}', {"Content-Type": "application/json"}, 400,
         "'container_names'"),
        ("post", "/action", b'{"command": "stop", "container_names": ["zz"]}',
         {"Content-Type": "application/json"}, 500, "zz"),
        ("post", "/partitions", b'{"partitions": [["a"], "b"]}',
         {"Content-Type": "application/json"}, 400, "list of lists"),
        ("post", "/partitions", b'{"partitions": [["a"], ["zz"]]}',
         {"Content-Type": "application/json"}, 500, "zz"),
        ("put", "", b'{"containers": ["abc"]}', {"Content-Type": "application/json"}, 400,
         "not supported"),
        ("post", "/chaos", b'{"min_events_at_once": 1}', {"Content-Type": "application/json"},
         500, "min_events_at_once"),
        ("post", "/chaos", b'{"event_set": ["EXPLODE"]}', {"Content-Type": "application/json"},
         500, "EXPLODE"),
        ("post", "/chaos", b'{"max_containers_at_once": "2"}',
         {"Content-Type": "application/json"}, 500, "max_containers_at_once"),
        ("put", "/chaos", b"{}", {"Content-Type": "application/json"}, 500, "no chaos run"),
        ("delete", "/chaos", b"", {}, 500, "no chaos run"),
        ("get", "/chaos", b"", {}, 500, "no chaos run"),
        ("post", "", b'{"containers": {"c1": {"command": "sleep 1"}}}',
         {"Content-Type": "application/json"}, 500, "image"),
    ],
)  # fmt: skip
def test_blockade_answers_with_blockades_codes(
    client: TestClient,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    words: str,
) -> None:
    response = client.request(
        method, f"/blockade/unit{path}", content=body, headers={**AUTH, **headers}
    )
    assert response.status_code == status, response.text
    assert words in response.text and "\n" not in response.text
    assert response.headers["content-type"].startswith("text/plain")


def test_a_blockade_body_creates_its_cluster(tmp_path: Path) -> None:
    with make_client(tmp_path, every_cluster=True) as client:
        body = {"containers": {"c1": {"image": "busybox", "command": ["sleep", "300"]},
                               "c2": {"image": "busybox"}}}  # fmt: skip
        url = "/blockade/tmpRestTests12"
        assert client.post(url, json=body, headers=AUTH).status_code == 204
        assert "tmpRestTests12" in client.get("/blockade").json()["blockades"]
        assert set(client.get(url).json()["containers"]) == {"c1", "c2"}
        again = client.post(url, json=body, headers=AUTH)
        assert again.status_code == 400 and "exists" in again.text
        assert client.post("/blockade/bad%20name", json=body, headers=AUTH).status_code == 400
        assert client.delete(url, headers=AUTH).status_code == 204
        assert "tmpRestTests12" not in client.get("/blockade").json()["blockades"]
        assert client.get(url).status_code == 404


def test_documents_and_dashboard(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["info"]["title"] == "Squall"
    assert "/api/clusters/{name}/partition" in document["paths"]
    page = client.get("/")
    assert page.status_code == 200 and '<svg id="topology"' in page.text
    assert client.get("/static/app.js").status_code == 200
    unknown = client.get("/api/nothing")
    assert unknown.status_code == 404 and unknown.json()["error"].startswith("no route")


def test_a_foreign_host_is_refused(client: TestClient) -> None:
    response = client.get("/api/clusters", headers={"Host": "evil.example"})
    assert response.status_code == 400 and response.json()["type"] == "HostRefused"


def test_a_busy_cluster_or_a_running_chaos_is_409() -> None:
    from squall.api._errors import status_for
    from squall.errors import ChaosError, ChaosRunning, ClusterBusy, StateError

    assert status_for(ClusterBusy("cluster 'x' is busy")) == 409
    assert status_for(ChaosRunning("a chaos run is going")) == 409
    assert status_for(StateError("cannot create state directory")) == 500
    assert status_for(ChaosError("the chaos run exited at once")) == 500
