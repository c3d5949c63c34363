"""Profiles, services named explicitly, and scale overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import SpecError, UsageError

from .fixtures import FIXTURES, load, service


def test_services_with_profiles_are_left_out_by_default() -> None:
    spec = load("profiles")
    assert spec.service_names == ("app",)
    assert spec.profiles == ("debug", "ops")
    assert spec.active_profiles == ()


def test_a_profile_enables_its_services() -> None:
    assert load("profiles", profiles=("ops",)).service_names == ("app", "report", "tools")
    spec = load("profiles", profiles=("debug",))
    assert spec.service_names == ("app", "debug", "tools")
    assert spec.active_profiles == ("debug",)


def test_compose_profiles_and_star() -> None:
    assert load("profiles", {"COMPOSE_PROFILES": "ops"}).service_names == (
        "app",
        "report",
        "tools",
    )
    everything = load("profiles", {"COMPOSE_PROFILES": "*"})
    assert everything.service_names == ("app", "debug", "report", "tools")


def test_a_service_named_enables_its_profiles_and_what_it_needs() -> None:
    spec = load("profiles", services=("debug",))
    assert spec.service_names == ("app", "debug", "tools")


def test_depending_on_a_disabled_service_is_composes_error() -> None:
    with pytest.raises(SpecError) as caught:
        load("profiles", files=(Path("broken.yaml"),))
    path = FIXTURES / "profiles" / "broken.yaml"
    assert str(caught.value) == (
        f"{path}:5:9: service 'migrate' is required by 'app' but is disabled;"
        " it is enabled by the profiles [ci] (--profile or COMPOSE_PROFILES)"
    )
    assert load("profiles", files=(Path("broken.yaml"),), profiles=("ci",)).service_names == (
        "app",
        "migrate",
    )


def test_a_dependency_not_required_is_dropped_when_disabled(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  app:\n    image: x\n    depends_on:\n      extra: {condition: service_started,"
        " required: false}\n"
        "  extra:\n    image: x\n    profiles: [more]\n"
    )
    app = service(load(str(tmp_path)), "app")
    assert app.depends_on == ()


def test_unknown_service_named_or_scaled() -> None:
    with pytest.raises(UsageError, match="no such service: 'ap'; did you mean 'app'"):
        load("profiles", services=("ap",))
    with pytest.raises(UsageError, match="no such service"):
        load("profiles", scale={"nope": 2})


def test_scale_override_and_its_bounds() -> None:
    spec = load("resources", {"API_KEY": "k"}, scale={"worker": 5})
    assert service(spec, "worker").scale == 5
    assert service(spec, "api").scale == 3
    with pytest.raises(UsageError, match="expected 0 to 1000"):
        load("resources", {"API_KEY": "k"}, scale={"worker": -1})
