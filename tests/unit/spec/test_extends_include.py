"""`extends` (same file, other files, chains, cycles) and `include`."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import SpecError

from .conftest import Project
from .fixtures import FIXTURES, load, service


def test_extends_in_the_same_file_and_chains() -> None:
    spec = load("extends")
    middle, top = service(spec, "middle"), service(spec, "top")
    assert middle.image == "busybox:1.36"
    assert middle.environment == {"ROLE": "middle", "LEVEL": "1"}
    assert middle.command == ("sleep", "1")
    assert top.environment == {"ROLE": "middle", "LEVEL": "1"}  # base -> middle -> top
    assert top.command == ("sleep", "3")
    assert top.location.line == 12  # the service is still where the file wrote it


def test_extends_from_another_file_keeps_its_paths_there() -> None:
    built = service(load("extends"), "built")
    common = FIXTURES / "extends" / "common"
    assert built.build is not None and built.build.context == common / "app"
    assert built.volumes[0].source == str(common / "data")
    assert built.environment == {"APP_ONLY": "1", "FROM": "here", "SHARED": "yes"}


def test_an_extends_cycle_is_named_at_its_line() -> None:
    with pytest.raises(SpecError) as caught:
        load("extends-cycle")
    path = FIXTURES / "extends-cycle" / "compose.yaml"
    assert str(caught.value) == (f"{path}:9:5: services.c.extends: extends cycle: a -> b -> c -> a")


def test_extends_of_an_unknown_service(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            extends: {service: bsae}
          base: {image: busybox}
        """
    )
    assert str(error).startswith(f"{project.at(3)}24: services.web.extends.service: ")
    assert "no service 'bsae' in compose.yaml; did you mean 'base'?" in str(error)


def test_extends_of_a_missing_file(project: Project) -> None:
    error = project.error(
        """
        services:
          web:
            extends: {service: base, file: nowhere.yaml}
        """
    )
    assert str(error).startswith(project.at(3))
    assert "extended file" in str(error) and "does not exist" in str(error)


def test_include_brings_services_with_their_own_env_and_paths() -> None:
    spec = load("include")
    db = service(spec, "db")
    assert db.image == "postgres:16"  # from the include's env_file
    assert db.volumes[0].source == str(FIXTURES / "include" / "sub" / "initdb")
    assert [d.service for d in service(spec, "web").depends_on] == ["db"]
    assert [n.name for n in spec.networks] == ["backend", "default"]


def test_include_conflicting_with_a_service_here(project: Project) -> None:
    project.write("sub/compose.yaml", "services:\n  web: {image: busybox}\n")
    error = project.error(
        """
        include: [sub/compose.yaml]
        services:
          web: {image: nginx}
        """
    )
    assert str(error).startswith(f"{project.at(3)}3: services.web: 'web' is also defined")


def test_include_cycle(project: Project) -> None:
    project.write("other.yaml", "include: [compose.yaml]\nservices:\n  b: {image: x}\n")
    error = project.error("include: [other.yaml]\nservices:\n  a: {image: x}\n")
    assert "include cycle: compose.yaml -> other.yaml -> compose.yaml" in str(error)


def test_include_of_a_missing_file(project: Project, tmp_path: Path) -> None:
    error = project.error("include: [absent.yaml]\nservices:\n  a: {image: x}\n")
    assert str(error).startswith(project.at(1)) and "does not exist" in str(error)
