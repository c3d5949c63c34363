"""File sets: merge rules, override discovery, COMPOSE_FILE, project directory, env files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from squall.errors import SpecError
from squall.spec import PortMapping, VolumeMount

from .fixtures import FIXTURES, load, service

OVERRIDE = FIXTURES / "override"


def test_the_override_file_is_found_and_merged_by_composes_rules() -> None:
    spec = load("override")
    assert spec.files == (OVERRIDE / "compose.yaml", OVERRIDE / "compose.override.yaml")
    web = service(spec, "web")
    assert web.command == ("nginx-debug", "-g", "daemon off;")  # replaced, not appended
    assert web.environment == {"MODE": "debug", "KEEP": "yes", "EXTRA": "1"}  # by key
    assert web.labels == {"tier": "front", "owner": "me"}  # list and mapping, by key
    assert web.ports == (PortMapping(80, 8080), PortMapping(443, 8443))  # appended
    assert web.expose == (80, 81)
    assert web.settings.dns == ("10.0.0.53", "10.0.0.54")  # appended
    assert web.volumes == (  # by target: the override's html mount replaces the first
        VolumeMount("/usr/share/nginx/html", str(OVERRIDE / "debug-html"), "bind"),
        VolumeMount("/var/log/nginx", "logs"),
    )
    assert spec.service_names == ("cache", "db", "web")  # the override adds cache


def test_files_given_are_merged_in_order_and_the_override_is_not_read() -> None:
    spec = load("override", files=(Path("compose.yaml"),))
    assert spec.files == (OVERRIDE / "compose.yaml",)
    assert service(spec, "web").command == ("nginx", "-g", "daemon off;")


def test_compose_file_and_its_separator() -> None:
    environ = {"COMPOSE_FILE": "compose.yaml;compose.override.yaml", "COMPOSE_PATH_SEPARATOR": ";"}
    spec = load("override", environ)
    assert spec.files == (OVERRIDE / "compose.yaml", OVERRIDE / "compose.override.yaml")


def test_an_error_in_an_override_names_that_file_and_line() -> None:
    with pytest.raises(SpecError) as caught:
        load("override", files=(Path("compose.yaml"), Path("bad.override.yaml")))
    assert str(caught.value).startswith(
        f"{OVERRIDE / 'bad.override.yaml'}:4:16: services.web.healthcheck.retries: "
    )


def test_project_directory_env_file_and_project_name(tmp_path: Path) -> None:
    (tmp_path / "names.env").write_text("COMPOSE_PROJECT_NAME=From_Env_File\n")
    spec = load(
        "override",
        project_directory=tmp_path,
        files=(OVERRIDE / "compose.yaml",),
        env_files=(tmp_path / "names.env",),
    )
    assert spec.project_dir == tmp_path
    assert spec.name == "from_env_file"
    # relative paths start at the project directory, whichever file wrote them
    assert service(spec, "web").volumes[0].source == str(tmp_path / "html")
    assert load("override", project="Given").name == "given"


def test_a_missing_env_file_named_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load("override", env_files=(tmp_path / "absent.env",))
    assert str(caught.value) == f"{tmp_path / 'absent.env'}: env file not found"


def test_reset_and_override_tags() -> None:
    app = service(load("reset"), "app")
    assert app.ports == ()
    assert app.environment == {"A": "1"}
    assert app.settings.dns == ("10.0.0.99",)


def test_dotenv_values_are_interpolated_and_reach_the_file() -> None:
    shop = service(load("dotenv"), "shop")
    assert shop.image == "nginx:1.25"
    assert shop.environment == {
        "SHOP_URL": "http://cart:8080/shop",  # env_file values are interpolated too
        "CART_ADDR": "cart:8080",
        "QUOTED": "line1\nline2 8080",
        "LITERAL": "${CART_PORT} stays",
        "ESCAPED": "a $CART_PORT",
        "DEFAULTED": "fallback",
    }


def test_the_environment_wins_over_dotenv_even_inside_it() -> None:
    shop = service(load("dotenv", {"CART_PORT": "7000"}), "shop")
    assert shop.environment["CART_ADDR"] == "cart:7000"


def test_env_file_replaces_dotenv() -> None:
    shop = service(load("dotenv", env_files=(Path("other.env"),)), "shop")
    assert shop.image == "nginx:1.27"
    assert shop.environment["CART_ADDR"] == "cart:9090"


def test_a_file_with_only_networks_and_volumes_loads() -> None:
    spec = load("networks-only")
    assert spec.services == ()
    assert [n.name for n in spec.networks] == ["shared"]
    assert [v.name for v in spec.volumes] == ["cache"]


def test_v1_net_container_of_a_service_is_network_mode_service() -> None:
    spec = load("v1-net")
    assert spec.format == "compose-v1"
    sidecar, other = service(spec, "sidecar"), service(spec, "other")
    assert sidecar.network_mode == "service:web"
    assert [d.service for d in sidecar.depends_on] == ["web"]
    assert other.network_mode == "container:somewhere-else"


def test_no_file_found_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load(str(tmp_path))
    assert "no cluster file found" in str(caught.value)


def test_blockade_files_are_not_merged(tmp_path: Path) -> None:
    shutil.copy(OVERRIDE / "compose.yaml", tmp_path / "extra.yaml")
    (tmp_path / "blockade.yml").write_text("containers:\n  a: {image: busybox}\n")
    with pytest.raises(SpecError) as caught:
        load(str(tmp_path), files=(Path("blockade.yml"), Path("extra.yaml")))
    assert "read alone" in str(caught.value)


def test_a_value_reset_in_one_file_takes_what_a_later_file_gives(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: x\n    ports: !reset []\n    dns: !reset []\n"
    )
    (tmp_path / "later.yaml").write_text(
        "services:\n  app:\n    ports: ['81:80']\n    dns: [10.0.0.1]\n"
    )
    app = service(load(str(tmp_path), files=(Path("compose.yaml"), Path("later.yaml"))), "app")
    assert app.ports == (PortMapping(80, 81),)
    assert app.settings.dns == ("10.0.0.1",)
