"""Every kind of mistake becomes one line: `path:line:col: field: message`."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import SpecError
from squall.spec import load_cluster

from .conftest import Project


def assert_error(error: SpecError, prefix: str, field: str, *parts: str) -> None:
    text = str(error)
    assert "\n" not in text
    assert text.startswith(prefix), text
    assert f" {field}: " in text, text
    assert error.field == field
    for part in parts:
        assert part in text, text


def test_unknown_key_suggests_the_closest(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            image: nginx
            comand: ["nginx"]
        """
    )
    assert_error(
        error, project.at(4), "services.web.comand", "unknown key; did you mean 'command'?"
    )
    assert error.location.column == 5


def test_unknown_top_level_key(project: Project) -> None:
    error = project.error(
        """
        services:
          web: {image: nginx}
        netwroks: {}
        """
    )
    assert_error(error, project.at(3), "netwroks", "did you mean 'networks'?")


def test_wrong_type_names_what_was_expected(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            image: nginx
            ports: "80:80"
        """
    )
    assert_error(error, project.at(4), "services.web.ports", "expected a list, got a string")


def test_dependency_cycle_is_named_at_its_first_dependency(project: Project) -> None:
    error = project.error(
        """
        services:
          b:
            image: x
            depends_on: [c]
          a:
            image: x
            depends_on:
              - b
          c:
            image: x
            depends_on: [a]
        """
    )
    assert_error(
        error, project.at(8), "services.a.depends_on", "dependency cycle: a -> b -> c -> a"
    )


def test_service_depending_on_itself(project: Project) -> None:
    error = project.error(
        """
        services:
          a:
            image: x
            links: [a]
        """
    )
    assert_error(error, project.at(4), "services.a.links", "dependency cycle: a -> a")


def test_unknown_network(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            image: nginx
            networks:
              - front
              - bakc
        networks:
          front: {}
          back: {}
        """
    )
    assert_error(
        error,
        project.at(6),
        "services.web.networks[1]",
        "network 'bakc' is not declared",
        "did you mean 'back'?",
    )


def test_bad_port_mapping(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            image: nginx
            ports:
              - "8080:8080"
              - "80:abc"
        """
    )
    assert_error(error, project.at(6), "services.web.ports[1]", "invalid port 'abc'")


def test_port_out_of_range(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            image: nginx
            ports: [70000]
        """
    )
    assert_error(error, project.at(4), "services.web.ports[0]", "out of range")


def test_duplicate_container_name(project: Project) -> None:
    error = project.error(
        """
        services:
          one:
            image: x
            container_name: same
          two:
            image: x
            container_name: same
        """
    )
    assert_error(
        error, project.at(7), "services.two.container_name", "already used by service 'one'"
    )


def test_depends_on_unknown_service(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            image: nginx
            depends_on:
              dbb:
                condition: service_healthy
          db:
            image: postgres
        """
    )
    assert_error(
        error,
        project.at(5),
        "services.web.depends_on.dbb",
        "unknown service 'dbb'",
        "did you mean 'db'?",
    )


def test_link_to_unknown_service(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            image: nginx
            links: ["db:database"]
        """
    )
    assert_error(error, project.at(4), "services.web.links[0]", "unknown service 'db'")


def test_yaml_syntax_error_has_line_and_column(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            image: nginx
           ports: [80]
        """
    )
    assert str(error).startswith(project.at(4))
    assert error.location.column is not None
    assert "\n" not in str(error)


def test_duplicate_key(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            image: nginx
            image: httpd
        """
    )
    assert str(error).startswith(project.at(4))
    assert "duplicate key" in str(error)


def test_required_variable(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            image: "nginx:${TAG:?must set}"
        """
    )
    assert_error(
        error,
        project.at(3),
        "services.web.image",
        "required variable TAG is missing a value: must set",
    )


def test_invalid_interpolation(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            image: nginx
            command: echo $ 5
        """
    )
    assert_error(error, project.at(4), "services.web.command", "write '$$' for a literal '$'")


def test_ipv4_address_outside_the_subnet(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            image: nginx
            networks:
              lan:
                ipv4_address: 10.0.0.5
        networks:
          lan:
            ipam:
              config:
                - subnet: 172.20.0.0/24
        """
    )
    assert_error(
        error,
        project.at(6),
        "services.web.networks.lan.ipv4_address",
        "10.0.0.5 is not in the network's subnet (172.20.0.0/24)",
    )


def test_undeclared_named_volume(project: Project) -> None:
    error = project.error(
        """
        services:
          db:
            image: postgres
            volumes: ["data:/var/lib/postgresql/data"]
        """
    )
    assert_error(error, project.at(4), "services.db.volumes[0]", "volume 'data' is not declared")


def test_unknown_restart_policy(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            image: nginx
            restart: sometimes
        """
    )
    assert_error(error, project.at(4), "services.web.restart", "unknown restart policy")


def test_bad_duration(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            image: nginx
            healthcheck:
              test: ["CMD", "true"]
              interval: 10 seconds
        """
    )
    assert_error(error, project.at(6), "services.web.healthcheck.interval", "invalid duration")


def test_missing_env_file_points_at_the_entry(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            image: nginx
            env_file:
              - web.env
        """
    )
    assert_error(error, project.at(5), "services.web.env_file[0]", "web.env does not exist")


def test_malformed_env_file_points_into_it(project: Project) -> None:
    project.write("web.env", "GOOD=1\nnot a line\n")
    error = project.error(
        """
        services:
          web:
            image: nginx
            env_file: web.env
        """
    )
    assert str(error).startswith(f"{project.dir / 'web.env'}:2: ")


def test_service_without_image_or_build(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            command: ["true"]
        """
    )
    assert_error(error, project.at(2), "services.web", "needs 'image' or 'build'", "netns")


def test_netns_only_file_needs_no_image(project: Project) -> None:
    spec = project.load(
        """
        x-squall: {backend: netns}
        services:
          web:
            command: ["true"]
        """
    )
    assert spec.options.backend == "netns"
    assert [(s.name, s.image, s.build) for s in spec.services] == [("web", None, None)]


def test_network_mode_with_networks(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            image: nginx
            network_mode: host
            networks: [default]
        """
    )
    assert_error(error, project.at(4), "services.web.network_mode", "cannot be used together")


def test_unknown_squall_backend(project: Project) -> None:
    error = project.error(
        """
        services:
          web: {image: nginx}
        x-squall:
          backend: dockr
        """
    )
    assert_error(error, project.at(4), "x-squall.backend", "did you mean 'docker'?")


def test_empty_file(project: Project) -> None:
    error = project.error("# nothing here\n")
    assert str(error) == f"{project.dir / 'compose.yaml'}: the file is empty"


def test_file_without_any_block(project: Project) -> None:
    error = project.error(
        """
        version: "3.8"
        x-note: nothing else
        """
    )
    assert "no 'services:' found" in str(error)


def test_project_name_without_letters(project: Project) -> None:
    error = project.error(
        """
        name: "!!!"
        services:
          web: {image: nginx}
        """
    )
    assert_error(error, project.at(1), "name", "a project name has only letters, digits")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_cluster(tmp_path / "absent.yaml", environ={})
    assert str(caught.value).startswith(f"{tmp_path / 'absent.yaml'}: cannot read the file")
