"""The CLI's own logic (parsing, errors, output) against an in-memory backend."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from squall.cli import main as cli_main
from squall.ops import opening
from tests.unit.fakes import FakeBackend

COMPOSE = """\
name: shop
services:
  web:
    image: squall/busybox
    depends_on: [db]
  db:
    image: squall/busybox
"""


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeBackend:
    fake = FakeBackend()
    monkeypatch.setattr(opening, "make_backend", lambda name, **hints: fake)
    monkeypatch.setenv("SQUALL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    return fake


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["squall", *argv])
    try:
        cli_main.main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def last_call(backend: FakeBackend) -> tuple[str, ...]:
    """The backend call made last (a function, so each assert reads it afresh)."""
    return backend.calls[-1]


def test_up_then_status_json(
    backend: FakeBackend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, monkeypatch, "up")
    assert code == 0 and "web" in out and "db" in out
    code, out, _ = run(capsys, monkeypatch, "status", "--json")
    rows = json.loads(out)["services"]
    assert [(r["service"], r["state"]) for r in rows] == [("db", "running"), ("web", "running")]
    assert rows[0]["addresses"][0]["network"] == "default"


def test_status_lists_declared_services_not_created_as_missing(
    backend: FakeBackend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, monkeypatch, "ps", "--json")
    assert code == 0
    assert {r["service"]: r["state"] for r in json.loads(out)["services"]} == {
        "db": "missing",
        "web": "missing",
    }


def test_spec_error_is_one_line_and_touches_nothing(
    backend: FakeBackend,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: x\n    comand: sh\n")
    code, _out, err = run(capsys, monkeypatch, "up")
    assert code == 2
    assert err.startswith(f"squall: error: {tmp_path / 'compose.yaml'}:4:5: ")
    assert "command" in err and err.count("\n") == 1
    assert backend.calls == []


def test_actions_take_services_all_or_random(
    backend: FakeBackend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, monkeypatch, "up")
    assert run(capsys, monkeypatch, "stop", "web")[0] == 0
    assert last_call(backend) == ("stop", "web")
    assert run(capsys, monkeypatch, "kill", "--all")[0] == 0
    assert last_call(backend) == ("kill", "db", "web")
    assert run(capsys, monkeypatch, "pause", "--random")[0] == 0
    assert last_call(backend)[0] == "pause" and last_call(backend)[1] in {"db", "web"}
    assert len(last_call(backend)) == 2


def test_actions_reject_unknown_or_missing_services(
    backend: FakeBackend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, monkeypatch, "stop", "cache")
    assert code == 1 and "no service 'cache'" in err and "services: db, web" in err
    code, _, err = run(capsys, monkeypatch, "stop")
    assert code == 2 and "--all or --random" in err
    code, _, err = run(capsys, monkeypatch, "stop", "web", "--all")
    assert code == 2


def test_exec_passes_argv_untouched(
    backend: FakeBackend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, _ = run(
        capsys, monkeypatch, "exec", "-T", "web", "--", "sh", "-c", "echo $HOME; ls -l"
    )
    assert code == 0
    assert last_call(backend) == ("exec", "web", "sh", "-c", "echo $HOME; ls -l")


def test_down_works_from_anywhere_with_only_a_project_name(
    backend: FakeBackend,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    run(capsys, monkeypatch, "up")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, _, err = run(capsys, monkeypatch, "-p", "shop", "down")
    assert code == 0, err
    assert last_call(backend) == ("down", "shop")


def test_down_with_a_project_name_goes_on_when_the_file_is_broken(
    backend: FakeBackend,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    run(capsys, monkeypatch, "up")
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    imag: x\n")
    code, _, err = run(capsys, monkeypatch, "down")  # without -p the name is unknown
    assert code == 2 and "imag" in err
    assert last_call(backend) != ("down", "shop")
    code, _, err = run(capsys, monkeypatch, "-p", "shop", "down")
    assert code == 0, err
    assert "warning:" in err and "going on with -p shop" in err
    assert last_call(backend) == ("down", "shop")


def test_no_cluster_file_says_what_it_looked_for(
    backend: FakeBackend,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    (tmp_path / "compose.yaml").unlink()
    code, _, err = run(capsys, monkeypatch, "up")
    assert code == 2 and "compose.yaml" in err and "blockade.yml" in err


@pytest.mark.parametrize(
    "command", [[], ["up"], ["exec"], ["kill"], ["net", "connect"], ["images", "build"]]
)
def test_help_teaches(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    code, out, _ = run(capsys, monkeypatch, *command, "--help")
    assert code == 0 and "Usage: squall" in out


def test_loading_the_cli_does_not_load_the_docker_sdk() -> None:
    """The SDK and requests are a fifth of start-up; commands that need them load them."""
    probe = "import sys, squall.cli.main; print(sorted({'docker', 'requests'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "argv",
    [
        ["shape", "web", "--distribution", "foo", "--delay", "1ms"],
        ["isolate"],
        ["join", "extra"],
        ["--backend", "foo", "status"],
        ["nosuchcommand"],
    ],
)
def test_usage_errors_are_one_line(
    backend: FakeBackend,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
) -> None:
    code, _out, err = run(capsys, monkeypatch, *argv)
    assert code == 2
    assert err.startswith("squall: error: ") and err.count("\n") == 1
    assert "--help" in err
    assert backend.calls == []


def test_events_tail_counts_from_the_end(
    backend: FakeBackend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, monkeypatch, "up")
    run(capsys, monkeypatch, "stop", "web")
    code, out, _ = run(capsys, monkeypatch, "events")
    assert code == 0 and len(out.splitlines()) == 2
    assert run(capsys, monkeypatch, "events", "--tail", "0")[1] == ""
    assert run(capsys, monkeypatch, "events", "--tail", "1")[1].splitlines() == out.splitlines()[1:]
    assert run(capsys, monkeypatch, "events", "--tail", "5")[1] == out


def test_services_all_and_random_exclude_each_other(
    backend: FakeBackend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, monkeypatch, "up")
    code, _, err = run(capsys, monkeypatch, "stop", "web", "--all")
    assert code == 2 and "exclude each other" in err
    code, _, err = run(capsys, monkeypatch, "stop")
    assert code == 2 and "name one or more services" in err


def test_unknown_clusters_and_bad_names_leave_no_state(
    backend: FakeBackend,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    code, _, err = run(capsys, monkeypatch, "-p", "rel;x", "status")
    assert code == 2
    assert err.strip() == (
        "squall: error: -p 'rel;x': a project name has only letters, digits, '_' and '-',"
        " starting with a letter or digit"
    )
    code, _, err = run(capsys, monkeypatch, "-p", "nosuch", "down")
    assert code == 0, err
    code, _, err = run(capsys, monkeypatch, "-f", str(tmp_path / "compose.yaml"), "status")
    assert code == 0, err
    assert not (state / "nosuch").exists() and not (state / "shop").exists()
    assert not (state / "nosuch.events.jsonl").exists()
    run(capsys, monkeypatch, "up")
    code, _, err = run(capsys, monkeypatch, "down")
    assert code == 0, err
    assert [e["what"] for e in map(json.loads, (state / "shop.events.jsonl").open())] == [
        "up",
        "down",
    ]
