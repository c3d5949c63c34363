"""The project (cluster) name, chosen and normalised the way Compose does it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from squall.errors import Location, SpecError
from squall.spec.node import Node

_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")


def normalise_project_name(name: str) -> str:
    """Lowercase, only `[a-z0-9_-]`, starting with a letter or digit ("" if none left)."""
    return _NOT_ALLOWED.sub("", name.lower()).lstrip("_-")


def project_name(
    explicit: str | None, declared: Node | None, variables: Mapping[str, str], directory: Path
) -> str:
    """Compose's order: the caller's name (`-p`), `COMPOSE_PROJECT_NAME` (environment
    or `.env`), the file's `name:`, the name of the project directory.

    Raises:
        SpecError: the chosen name has no allowed character left.
    """
    location = Location(directory)
    if explicit is not None:
        raw = explicit
    elif variables.get("COMPOSE_PROJECT_NAME"):
        raw = variables["COMPOSE_PROJECT_NAME"]
    elif declared is not None and declared.value is not None:
        raw, location = declared.text(), declared.location
    else:
        raw = directory.name
    name = normalise_project_name(raw)
    if not name:
        raise SpecError(
            f"project name {raw!r} has no letter or digit; pass a project name",
            location,
            field="name" if location.line else None,
        )
    return name
