"""The fixtures written for issue #13: one folder per feature, loaded where they lie."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from squall.spec import ClusterSpec, ServiceSpec
from squall.spec.loader import ProjectRequest, load_project

FIXTURES = Path(__file__).parent / "fixtures"


def load(folder: str, environ: Mapping[str, str] | None = None, **request: object) -> ClusterSpec:
    """Load the fixture `folder` as `squall` run inside it would (plus `request`)."""
    given = ProjectRequest(cwd=FIXTURES / folder, environ=environ or {}, **request)  # type: ignore[arg-type]
    return load_project(given)


def service(spec: ClusterSpec, name: str) -> ServiceSpec:
    found = spec.service(name)
    assert found is not None, f"no service {name} in {spec.service_names}"
    return found
