"""Compose files: how each supported key lands in the model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from squall.errors import SpecError, UsageError
from squall.spec import (
    BuildSpec,
    Dependency,
    Healthcheck,
    Link,
    NetworkSpec,
    PortMapping,
    ServiceNetwork,
    VolumeMount,
    VolumeSpec,
    load_cluster,
)

from .conftest import Project


def test_minimal_file(project: Project) -> None:
    spec = project.load(
        """
        services:
          web:
            image: nginx
        """
    )
    assert spec.name == "proj"
    assert spec.format == "compose"
    assert spec.source == project.dir / "compose.yaml"
    assert spec.service_names == ("web",)
    web = spec.services[0]
    assert web.location.line == 2
    assert web.networks == (ServiceNetwork("default"),)
    assert spec.networks == (NetworkSpec("default"),)
    assert spec.warnings == ()


def test_project_name_precedence(project: Project) -> None:
    text = """
        name: From_File
        services:
          web: {image: nginx}
        """
    assert project.load(text).name == "from_file"
    assert project.load(text, project="Given").name == "given"
    no_name = "services:\n  web: {image: nginx}\n"
    assert project.load(no_name, environ={"COMPOSE_PROJECT_NAME": "env_Name"}).name == "env_name"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"project": "rel;x"}, "-p 'rel;x': a project name has only letters, digits"),
        ({"environ": {"COMPOSE_PROJECT_NAME": "env.Name"}}, "COMPOSE_PROJECT_NAME 'env.Name'"),
        ({"project": "-x"}, "starting with a letter or digit"),
    ],
)
def test_a_chosen_project_name_is_refused_not_renamed(
    project: Project, given: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        project.load("services:\n  web: {image: nginx}\n", **given)
    with pytest.raises(SpecError, match=r"compose.yaml:1:7: name: 'a;b': a project name has"):
        project.load("name: a;b\nservices:\n  web: {image: nginx}\n")


def test_services_are_sorted(project: Project) -> None:
    spec = project.load(
        """
        services:
          zeta: {image: x}
          alpha: {image: x}
          mid: {image: x}
        """
    )
    assert spec.service_names == ("alpha", "mid", "zeta")


def test_commands_and_build(project: Project) -> None:
    spec = project.load(
        """
        services:
          app:
            build:
              context: ./app
              dockerfile: Dockerfile.dev
              args:
                - VERSION=1
                - FROM_ENV
                - NOT_SET
              target: dev
            command: python -m app --name "two words"
            entrypoint: ["/bin/sh", "-c"]
          other:
            build: ../other
            command: []
        """,
        environ={"FROM_ENV": "yes"},
    )
    app, other = spec.services
    assert app.build == BuildSpec(
        context=project.dir / "app",
        dockerfile="Dockerfile.dev",
        args={"VERSION": "1", "FROM_ENV": "yes"},
        target="dev",
    )
    assert app.command == ("python", "-m", "app", "--name", "two words")
    assert app.entrypoint == ("/bin/sh", "-c")
    assert other.build == BuildSpec(context=project.dir.parent / "other")
    assert other.command == ()


def test_environment_list_map_and_env_files(project: Project) -> None:
    project.write(
        "common.env",
        """
        # shared
        SHARED=from-file
        OVERRIDDEN=from-file
        QUOTED="a # not a comment"
        INLINE=value # a comment
        MULTI="line1
        line2"
        ESCAPES="tab\\there"
        """,
    )
    project.write("extra.env", "export EXTRA='x'\n")
    spec = project.load(
        """
        services:
          web:
            image: nginx
            env_file: [common.env, extra.env]
            environment:
              OVERRIDDEN: inline
              NUMBER: 5
              FLAG: true
              FROM_SHELL:
              ABSENT:
          list:
            image: nginx
            env_file:
              - path: optional.env
                required: false
            environment:
              - A=1
              - B=
              - FROM_SHELL
              - ABSENT
              - C=x=y
        """,
        environ={"FROM_SHELL": "shell"},
    )
    web = spec.service("web")
    assert web is not None
    assert web.environment == {
        "SHARED": "from-file",
        "OVERRIDDEN": "inline",
        "QUOTED": "a # not a comment",
        "INLINE": "value",
        "MULTI": "line1\nline2",
        "ESCAPES": "tab\there",
        "EXTRA": "x",
        "NUMBER": "5",
        "FLAG": "true",
        "FROM_SHELL": "shell",
    }
    listed = spec.service("list")
    assert listed is not None
    assert listed.environment == {"A": "1", "B": "", "FROM_SHELL": "shell", "C": "x=y"}


def test_port_syntaxes(project: Project) -> None:
    spec = project.load(
        """
        services:
          web:
            image: nginx
            ports:
              - 80
              - "8080:80"
              - 8443:443
              - "127.0.0.1:5000:5000/udp"
              - "127.0.0.1::6000"
              - "[::1]:7000:7000"
              - "9090-9091:8080-8081"
              - "3000-3001"
              - target: 53
                published: "5353"
                protocol: udp
                host_ip: 0.0.0.0
                mode: host
        """
    )
    assert spec.services[0].ports == (
        PortMapping(80),
        PortMapping(80, 8080),
        PortMapping(443, 8443),
        PortMapping(5000, 5000, "127.0.0.1", "udp"),
        PortMapping(6000, None, "127.0.0.1"),
        PortMapping(7000, 7000, "::1"),
        PortMapping(8080, 9090),
        PortMapping(8081, 9091),
        PortMapping(3000),
        PortMapping(3001),
        PortMapping(53, 5353, "0.0.0.0", "udp"),
    )
    assert spec.warnings == (
        f"{project.dir / 'compose.yaml'}:17: services.web.ports[8].mode: "
        "not acted on by squall (ignored)",
    )


def test_expose(project: Project) -> None:
    spec = project.load(
        """
        services:
          web:
            image: nginx
            expose: [80, "443", "53/udp", "8000-8002", 80]
        """
    )
    assert spec.services[0].expose == (80, 443, 53, 8000, 8001, 8002)


def test_volume_kinds(project: Project) -> None:
    spec = project.load(
        """
        services:
          db:
            image: postgres
            volumes:
              - ./conf:/etc/app:ro
              - /var/log:/logs
              - ~/cache:/cache:rw
              - data:/var/lib/data
              - /anonymous
              - type: bind
                source: ../shared
                target: /shared
                read_only: true
              - type: volume
                source: data
                target: /more
              - type: tmpfs
                target: /tmp
        volumes:
          data:
            labels:
              owner: me
          outside:
            external: true
            name: real-name
          legacy:
            external:
              name: legacy-name
        """,
        environ={"HOME": "/home/me"},
    )
    assert spec.services[0].volumes == (
        VolumeMount("/etc/app", str(project.dir / "conf"), "bind", read_only=True),
        VolumeMount("/logs", "/var/log", "bind"),
        VolumeMount("/cache", "/home/me/cache", "bind"),
        VolumeMount("/var/lib/data", "data", "volume"),
        VolumeMount("/anonymous"),
        VolumeMount("/shared", str(project.dir.parent / "shared"), "bind", read_only=True),
        VolumeMount("/more", "data"),
        VolumeMount("/tmp", None, "tmpfs"),
    )
    data, legacy, outside = spec.volumes
    assert data == VolumeSpec("data", data.location, labels={"owner": "me"})
    assert data.location is not None and data.location.line == 20
    assert (outside.external, outside.external_name) == (True, "real-name")
    assert (legacy.external, legacy.external_name) == (True, "legacy-name")


def test_healthcheck_durations(project: Project) -> None:
    spec = project.load(
        """
        services:
          a:
            image: x
            healthcheck:
              test: ["CMD", "pg_isready", "-q"]
              interval: 1m30s
              timeout: 500ms
              retries: 5
              start_period: 1.5s
              start_interval: 1s
          b:
            image: x
            healthcheck:
              test: curl -f localhost || exit 1
          c:
            image: x
            healthcheck:
              test: ["CMD-SHELL", "mysqladmin ping --password=$$(cat /run/secrets/pw)"]
              interval: 1h2m
          d:
            image: x
            healthcheck:
              test: ["NONE"]
          e:
            image: x
            healthcheck:
              disable: true
        """
    )
    a, b, c, d, e = (s.healthcheck for s in spec.services)
    assert a == Healthcheck(("pg_isready", "-q"), 90.0, 0.5, 5, 1.5)
    assert b == Healthcheck(("sh", "-c", "curl -f localhost || exit 1"))
    assert c == Healthcheck(
        ("sh", "-c", "mysqladmin ping --password=$(cat /run/secrets/pw)"), interval=3720.0
    )
    assert d is not None and d.disabled
    assert e is not None and e.disabled
    assert len(spec.warnings) == 1 and "start_interval" in spec.warnings[0]


def test_networks_and_default_network(project: Project) -> None:
    spec = project.load(
        """
        services:
          proxy:
            image: nginx
            networks:
              front:
                aliases: [www]
              back:
                ipv4_address: 172.28.0.10
          api:
            image: api
            networks: [back]
          lonely:
            image: x
          host:
            image: x
            network_mode: host
        networks:
          front:
            driver: overlay
            internal: true
            attachable: true
          back:
            ipam:
              config:
                - subnet: 172.28.0.0/16
                  gateway: 172.28.0.1
          outside:
            external: true
        """
    )
    proxy = spec.service("proxy")
    assert proxy is not None
    assert proxy.networks == (
        ServiceNetwork("back", ipv4_address="172.28.0.10"),
        ServiceNetwork("front", aliases=("www",)),
    )
    lonely, host = spec.service("lonely"), spec.service("host")
    assert lonely is not None and lonely.networks == (ServiceNetwork("default"),)
    assert host is not None and host.networks == () and host.network_mode == "host"
    assert [n.name for n in spec.networks] == ["back", "default", "front", "outside"]
    back, default, front, outside = spec.networks
    assert (back.subnets, back.gateway) == (("172.28.0.0/16",), "172.28.0.1")
    assert (front.driver, front.internal) == ("overlay", True)
    assert default == NetworkSpec("default")
    assert outside.external
    assert front.attachable and not any("attachable" in w for w in spec.warnings)


def test_declared_default_network_is_used(project: Project) -> None:
    spec = project.load(
        """
        services:
          web: {image: nginx}
        networks:
          default:
            driver: macvlan
        """
    )
    assert [(n.name, n.driver) for n in spec.networks] == [("default", "macvlan")]


def test_no_default_network_when_every_service_names_one(project: Project) -> None:
    spec = project.load(
        """
        services:
          web:
            image: nginx
            networks: [front]
        networks:
          front:
        """
    )
    assert [n.name for n in spec.networks] == ["front"]


def test_depends_on_links_and_network_mode_service(project: Project) -> None:
    spec = project.load(
        """
        services:
          web:
            image: nginx
            depends_on:
              db:
                condition: service_healthy
                restart: true
              cache:
                condition: service_started
                required: false
            links: ["db:database", cache]
          sidecar:
            image: x
            network_mode: "service:web"
          db: {image: postgres}
          cache: {image: redis}
        """
    )
    web, sidecar = spec.service("web"), spec.service("sidecar")
    assert web is not None and sidecar is not None
    path = project.dir / "compose.yaml"
    assert [(d.service, d.condition) for d in web.depends_on] == [
        ("db", "service_healthy"),
        ("cache", "service_started"),
    ]
    assert web.depends_on[0].location is not None
    assert web.depends_on[0].location.line == 5
    assert [(link.service, link.alias) for link in web.links] == [
        ("db", "database"),
        ("cache", "cache"),
    ]
    assert web.links[0] == Link("db", "database", web.links[0].location)
    assert web.links[0].location is not None and web.links[0].location.path == path
    assert sidecar.depends_on == (Dependency("web", location=sidecar.depends_on[0].location),)
    assert sidecar.networks == ()


def test_plain_fields(project: Project) -> None:
    spec = project.load(
        """
        services:
          web:
            image: nginx
            hostname: web1
            container_name: web-one
            cap_add: [NET_ADMIN]
            cap_drop: [ALL]
            privileged: true
            restart: on-failure:3
            labels:
              - "traefik.enable=true"
              - bare
            working_dir: /srv
            user: 1000
            tty: true
            stdin_open: true
            init: true
            extra_hosts:
              - "db.local:10.0.0.2"
              - "cache.local=10.0.0.3"
          other:
            image: x
            restart: "no"
            labels:
              a: b
            extra_hosts:
              api.local: 10.0.0.4
        """
    )
    web, other = spec.service("web"), spec.service("other")
    assert web is not None and other is not None
    assert (web.hostname, web.container_name, web.cap_add, web.cap_drop) == (
        "web1",
        "web-one",
        ("NET_ADMIN",),
        ("ALL",),
    )
    assert (web.privileged, web.tty, web.stdin_open, web.init) == (True, True, True, True)
    assert (web.restart, web.working_dir, web.user) == ("on-failure:3", "/srv", "1000")
    assert web.labels == {"traefik.enable": "true", "bare": ""}
    assert web.extra_hosts == ("db.local:10.0.0.2", "cache.local:10.0.0.3")
    assert other.restart == "no"
    assert other.labels == {"a": "b"}
    assert other.extra_hosts == ("api.local:10.0.0.4",)


def test_known_but_ignored_keys_warn(project: Project) -> None:
    spec = project.load(
        """
        version: "3.9"
        services:
          web:
            image: nginx
            platform: linux/amd64
            deploy:
              replicas: 2
              placement: {max_replicas_per_node: 1}
            x-custom: anything
            volumes:
              - /srv:/srv:z
        models:
          llm: {}
        x-common: &common
          image: nginx
        """
    )
    path = project.dir / "compose.yaml"
    assert spec.warnings == (
        f"{path}:12: models: not acted on by squall (ignored)",
        f"{path}:5: services.web.platform: not acted on by squall (ignored)",
        f"{path}:8: services.web.deploy.placement.max_replicas_per_node: not acted on by squall"
        " (ignored)",
        f"{path}:11: services.web.volumes[0]: mode 'z' not acted on by squall (ignored)",
    )
    assert spec.services[0].scale == 2


def test_merge_keys_and_anchors(project: Project) -> None:
    spec = project.load(
        """
        x-base: &base
          image: busybox
          environment:
            ROLE: worker
        services:
          one:
            <<: *base
          two:
            <<: *base
            image: alpine
        """
    )
    one, two = spec.services
    assert (one.image, two.image) == ("busybox", "alpine")
    assert one.environment == {"ROLE": "worker"}


def test_x_squall_options(project: Project) -> None:
    spec = project.load(
        """
        services:
          web: {image: nginx}
        x-squall:
          backend: netns
          presets:
            slow: 200ms
            flaky: 10%
          chaos:
            seed: 7
        """
    )
    options = spec.options
    assert options.backend == "netns"
    assert (options.presets.slow, options.presets.flaky, options.presets.duplicate) == (
        "200ms",
        "10%",
        "5%",
    )
    assert options.raw == {
        "backend": "netns",
        "presets": {"slow": "200ms", "flaky": "10%"},
        "chaos": {"seed": 7},
    }


def test_v1_layout_with_links(project: Project) -> None:
    spec = project.load(
        """
        web:
          build: .
          links:
            - redis:cache
          ports:
            - "5000:5000"
          volumes:
            - logs:/logs
        redis:
          image: redis
          net: host
        """,
        name="docker-compose.yml",
    )
    assert spec.format == "compose-v1"
    assert spec.service_names == ("redis", "web")
    redis, web = spec.services
    assert web.links[0].service == "redis" and web.links[0].alias == "cache"
    assert web.build == BuildSpec(context=project.dir)
    assert redis.network_mode == "host"
    assert [v.name for v in spec.volumes] == ["logs"]
    assert [n.name for n in spec.networks] == ["default"]


def test_v1_errors_have_plain_field_paths(project: Project) -> None:
    error = project.error(
        """
        web:
          image: nginx
          links: [db]
        """,
        name="docker-compose.yml",
    )
    assert " web.links[0]: unknown service 'db'" in str(error)


def test_relative_path_is_made_absolute(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.write("compose.yaml", "services:\n  web:\n    image: nginx\n    volumes: [./d:/d]\n")
    monkeypatch.chdir(project.dir)
    spec = load_cluster(Path("compose.yaml"), environ={})
    assert spec.source == project.dir / "compose.yaml"
    assert spec.services[0].volumes[0].source == str(project.dir / "d")


def test_remote_build_context_warns(project: Project) -> None:
    spec = project.load(
        """
        services:
          web:
            image: app
            build: https://github.com/example/app.git
        """
    )
    assert spec.services[0].build is None
    assert "remote build context" in spec.warnings[0]
    error = project.error(
        """
        services:
          web:
            build: https://github.com/example/app.git
        """
    )
    assert "needs 'image' or a local 'build' context" in str(error)
