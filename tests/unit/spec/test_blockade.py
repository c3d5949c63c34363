"""Blockade's blockade.yml, read the way Blockade reads it."""

from __future__ import annotations

from squall.spec import FaultPresets, PortMapping, ServiceNetwork, VolumeMount, start_order

from .conftest import Project

SEED = """\
containers:
  server:
    image: ubuntu:trusty
    command: /bin/bash -c "nc -kld 10000"
    ports:
      10000: 10000
    expose: [10000]

  client1:
    image: ubuntu:trusty
    command: sh -c "sleep 5 && while true; do ping -c1 $SERVER_PORT_10000_TCP_ADDR; sleep 1; done"
    links: ["server"]

  client2:
    image: ubuntu:trusty
    command: sh -c "sleep 5 && while true; do ping -c1 $SERVER_PORT_10000_TCP_ADDR; sleep 1; done"
    links: ["server"]
"""

PING = "sleep 5 && while true; do ping -c1 $SERVER_PORT_10000_TCP_ADDR; sleep 1; done"


def test_seed_file(project: Project) -> None:
    spec = project.load(SEED, name="blockade.yml")
    assert spec.format == "blockade"
    assert spec.name == "proj"
    assert spec.service_names == ("client1", "client2", "server")
    client1, client2, server = spec.services
    assert server.image == "ubuntu:trusty"
    assert server.command == ("/bin/bash", "-c", "nc -kld 10000")
    assert server.ports == (PortMapping(target=10000, published=10000),)
    assert server.expose == (10000,)
    for client in (client1, client2):
        assert client.command == ("sh", "-c", PING)
        assert [(link.service, link.alias) for link in client.links] == [("server", "server")]
        assert [d.service for d in client.depends_on] == ["server"]
        assert client.environment == {}
        assert client.networks == (ServiceNetwork("default"),)
    assert [n.name for n in spec.networks] == ["default"]
    assert spec.options.presets == FaultPresets()
    assert start_order(spec) == [["server"], ["client1", "client2"]]
    assert spec.warnings == ()


def test_seed_command_is_not_interpolated_even_when_the_variable_is_set(
    project: Project,
) -> None:
    spec = project.load(SEED, name="blockade.yml", environ={"SERVER_PORT_10000_TCP_ADDR": "x"})
    assert spec.services[0].command == ("sh", "-c", PING)


def test_count_expands_names_and_container_names(project: Project) -> None:
    spec = project.load(
        """
        containers:
          node:
            image: cassandra
            count: 3
            container_name: cass
            hostname: node
          seed:
            image: cassandra
            count: 1
          client:
            image: x
            links: {node_2: cluster}
        """,
        name="blockade.yml",
    )
    assert spec.service_names == ("client", "node_1", "node_2", "node_3", "seed")
    names = [s.container_name for s in spec.services if s.name.startswith("node")]
    assert names == ["cass_1", "cass_2", "cass_3"]
    client = spec.services[0]
    assert [(link.service, link.alias) for link in client.links] == [("node_2", "cluster")]


def test_network_presets_and_container_options(project: Project) -> None:
    spec = project.load(
        """
        containers:
          c1:
            image: app
            command: ["/bin/app", "--flag"]
            volumes: {"/opt/data": "/data", "${SRC}/conf": "/conf"}
            ports: [8080]
            expose: [80]
            environment: {"IS_MASTER": 1, "WHERE": "${PWD}", "SAME":}
            start_delay: 2.5
            holy: true
            cap_add: [NET_ADMIN]
            dns: ["8.8.8.8"]
          c2:
            image: app
            volumes: ["/shared"]
            neutral: true
        network:
          driver: udn
          slow: 100ms 10ms
          flaky: 20%
        """,
        name="blockade.yml",
        environ={"SRC": "/src"},
    )
    c1, c2 = spec.services
    assert c1.command == ("/bin/app", "--flag")
    assert c1.volumes == (
        VolumeMount("/data", "/opt/data", "bind"),
        VolumeMount("/conf", "/src/conf", "bind"),
    )
    assert c1.ports == (PortMapping(8080, 8080),)
    assert c1.expose == (80, 8080)
    assert c1.environment == {"IS_MASTER": "1", "WHERE": str(project.dir), "SAME": "SAME"}
    assert (c1.start_delay, c1.holy, c1.neutral, c1.cap_add) == (2.5, True, False, ("NET_ADMIN",))
    assert c2.volumes == (VolumeMount("/shared", "/shared", "bind"),)
    assert c2.neutral
    assert spec.options.presets == FaultPresets(slow="100ms 10ms", flaky="20%", duplicate="5%")
    assert spec.options.raw == {"network": {"driver": "udn", "slow": "100ms 10ms", "flaky": "20%"}}
    assert spec.warnings == (
        f"{project.dir / 'blockade.yml'}:12: containers.c1.dns: not acted on by squall (ignored)",
    )


def test_unknown_key_is_an_error(project: Project) -> None:
    error = project.error(
        """
        containers:
          c1:
            image: app
            link: [c2]
          c2:
            image: app
        """,
        name="blockade.yml",
    )
    assert str(error).startswith(project.at(4, "blockade.yml"))
    assert "containers.c1.link: unknown key; did you mean 'links'?" in str(error)


def test_link_to_unknown_container(project: Project) -> None:
    error = project.error(
        """
        containers:
          web:
            image: app
            count: 2
          client:
            image: app
            links: [web]
        """,
        name="blockade.yml",
    )
    assert str(error).startswith(project.at(7, "blockade.yml"))
    assert "unknown container 'web'" in str(error)


def test_circular_links(project: Project) -> None:
    error = project.error(
        """
        containers:
          a:
            image: app
            links: [b]
          b:
            image: app
            links: [a]
        """,
        name="blockade.yml",
    )
    assert str(error).startswith(project.at(4, "blockade.yml"))
    assert "containers.a.links: dependency cycle: a -> b -> a" in str(error)


def test_holy_and_neutral(project: Project) -> None:
    error = project.error(
        """
        containers:
          a:
            image: app
            holy: true
            neutral: true
        """,
        name="blockade.yml",
    )
    assert str(error).startswith(project.at(5, "blockade.yml"))


def test_duplicate_container_name_with_count(project: Project) -> None:
    error = project.error(
        """
        containers:
          a:
            image: app
            container_name: x_1
          b:
            image: app
            count: 2
            container_name: x
        """,
        name="blockade.yml",
    )
    assert str(error).startswith(project.at(8, "blockade.yml"))
    assert "'x_1' is already used by container 'a'" in str(error)


def test_unknown_driver_and_missing_variable(project: Project) -> None:
    error = project.error(
        "containers:\n  a: {image: app}\nnetwork:\n  driver: weave\n", name="blockade.yml"
    )
    assert str(error).startswith(project.at(4, "blockade.yml"))
    error = project.error(
        "containers:\n  a:\n    image: app\n    volumes: {'${NOPE}/x': /x}\n", name="blockade.yml"
    )
    assert str(error).startswith(project.at(4, "blockade.yml"))
    assert "there is no environment variable '$NOPE'" in str(error)
