"""`squall config`'s output: the model in Compose's shape, and its one-name-a-line views."""

from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from squall.cli.config import config, config_text
from squall.cli.options import Options
from squall.spec.render import go_duration, render

from .fixtures import FIXTURES, load


def test_go_durations() -> None:
    assert [go_duration(s) for s in (0, 0.5, 10, 90, 3600, 3725.5, 0.000002)] == [
        "0s",
        "500ms",
        "10s",
        "1m30s",
        "1h0m0s",
        "1h2m5.5s",
        "2µs",
    ]


def test_the_model_renders_in_composes_long_syntax() -> None:
    data = render(load("resources", {"API_KEY": "k"}))
    api = data["services"]["api"]
    assert api["deploy"] == {
        "replicas": 3,
        "resources": {
            "limits": {"cpus": "0.5", "memory": str(512 << 20), "pids": 100},
            "reservations": {"cpus": "0.25", "memory": str(128 << 20)},
        },
    }
    assert api["stop_grace_period"] == "1m30s"
    assert api["ulimits"] == {"nproc": 65535, "nofile": {"soft": 20000, "hard": 40000}}
    assert api["secrets"][1] == {"source": "api_key", "target": "/etc/api/key", "mode": 0o440}
    assert data["networks"]["default"] == {"name": "shop-net", "driver": "bridge"}
    assert data["secrets"]["db_password"]["file"] == str(FIXTURES / "resources" / "db_password.txt")
    assert list(api) == sorted(api)


def test_yaml_and_json_say_the_same() -> None:
    spec = load("override")
    from_yaml = yaml.safe_load(config_text(spec, None, "yaml"))
    assert from_yaml == json.loads(config_text(spec, None, "json"))
    web = from_yaml["services"]["web"]
    assert web["ports"][0] == {
        "mode": "ingress",
        "target": 80,
        "protocol": "tcp",
        "published": "8080",
    }
    assert web["command"] == ["nginx-debug", "-g", "daemon off;"]


def test_views_print_one_name_a_line() -> None:
    spec = load("profiles", profiles=("ops",))
    assert config_text(spec, "services", "yaml") == "app\nreport\ntools\n"
    assert config_text(spec, "profiles", "yaml") == "debug\nops\n"
    assert config_text(load("extends"), "images", "yaml").splitlines()[1] == "extends-built"
    assert config_text(load("networks-only"), "volumes", "yaml") == "cache\n"


def test_the_command_prints_warnings_on_stderr_and_q_prints_nothing() -> None:
    runner = CliRunner()
    folder = FIXTURES / "resources"
    options = Options((folder / "compose.yaml",), None, "auto")
    result = runner.invoke(config, ["--services"], obj=options, env={"API_KEY": None})
    assert result.exit_code == 0, result.output
    assert result.stdout == "api\nworker\n"
    assert "warning: " in result.stderr and "variable API_KEY is not set" in result.stderr
    quiet = runner.invoke(config, ["-q"], obj=Options((folder / "compose.yaml",), None, "auto"))
    assert quiet.exit_code == 0 and quiet.stdout == ""
