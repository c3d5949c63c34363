"""Compose variable substitution, alone and inside a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from squall.errors import Location, SpecError
from squall.spec.interpolate import substitute

from .conftest import Project

HERE = Location(Path("compose.yaml"), 3, 5)
VARIABLES = {"SET": "value", "EMPTY": ""}


def expand(text: str) -> str:
    return substitute(text, VARIABLES, location=HERE, field_path="services.web.image").text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("$SET", "value"),
        ("${SET}", "value"),
        ("a${SET}b$SET.c", "avaluebvalue.c"),
        ("$$SET", "$SET"),
        ("$$", "$"),
        ("cost: $$5", "cost: $5"),
        ("${UNSET:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${EMPTY-fallback}", ""),
        ("${UNSET-fallback}", "fallback"),
        ("${SET:-fallback}", "value"),
        ("${UNSET:-${SET}}", "value"),
        ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
        ("${SET:+replaced}", "replaced"),
        ("${EMPTY:+replaced}", ""),
        ("${EMPTY+replaced}", "replaced"),
        ("${SET?never}", "value"),
        ("${EMPTY?unset only}", ""),
        ("$UNSET", ""),
    ],
)
def test_substitution(text: str, expected: str) -> None:
    assert expand(text) == expected


def test_unset_variables_are_reported_once() -> None:
    result = substitute("$A ${A} ${B:-x} $C", {}, location=HERE, field_path="f")
    assert result.text == "  x "
    assert result.missing == ["A", "C"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${UNSET:?must set}", "required variable UNSET is missing a value: must set"),
        ("${EMPTY:?}", "required variable EMPTY is missing a value"),
        ("${UNSET?gone}", "required variable UNSET is missing a value: gone"),
        ("$", "invalid interpolation"),
        ("a $ b", "invalid interpolation"),
        ("${}", "invalid interpolation"),
        ("${SET", "invalid interpolation"),
        ("${SET:x}", "invalid interpolation"),
        ("${1A}", "invalid interpolation"),
    ],
)
def test_errors_name_the_location(text: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        expand(text)
    assert str(caught.value).startswith("compose.yaml:3:5: services.web.image: ")
    assert message in str(caught.value)


@given(st.text(alphabet=st.sampled_from("$ {}:-?+_aAZ9\n\\x"), max_size=30))
def test_never_crashes(text: str) -> None:
    """Any text either expands or raises a one-line SpecError, nothing else."""
    try:
        result = substitute(text, VARIABLES, location=HERE, field_path="f")
    except SpecError as error:
        assert "\n" not in str(error)
    else:
        assert isinstance(result.text, str)


@given(st.text(max_size=40))
def test_text_without_dollar_is_unchanged(text: str) -> None:
    result = substitute(text.replace("$", ""), VARIABLES, location=HERE, field_path="f")
    assert result.text == text.replace("$", "")


def test_shell_environment_wins_over_dotenv(project: Project) -> None:
    project.write(
        ".env",
        """
        # comment
        export TAG=from-dotenv
        PORT="8080"
        NAME='literal $NAME'
        COMPOSE_PROJECT_NAME=Dotenv_Name
        """,
    )
    spec = project.load(
        """
        services:
          web:
            image: nginx:${TAG}
            ports: ["${PORT}:80"]
            environment:
              NAME: ${NAME}
              ESCAPED: $$HOME
        """,
        environ={"TAG": "from-shell"},
    )
    web = spec.services[0]
    assert web.image == "nginx:from-shell"
    assert web.ports[0].published == 8080
    assert web.environment == {"NAME": "literal $NAME", "ESCAPED": "$HOME"}
    assert spec.name == "dotenv_name"


def test_unset_variable_warns_and_types_are_checked_after(project: Project) -> None:
    spec = project.load(
        """
        services:
          web:
            image: nginx
            privileged: "${PRIV:-true}"
            environment:
              - TZ=${TIMEZONE}
        """
    )
    assert spec.services[0].privileged is True
    assert spec.services[0].environment == {"TZ": ""}
    assert spec.warnings == (
        f"{project.dir / 'compose.yaml'}:6: services.web.environment[0]: "
        "variable TIMEZONE is not set; using an empty string",
    )
