"""The project (cluster) name, chosen and normalised the way Compose does it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from squall.errors import Location, SpecError, UsageError
from squall.spec.node import Node

_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")
_GIVEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
ALLOWED = "letters, digits, '_' and '-', starting with a letter or digit"


def normalise_project_name(name: str) -> str:
    """Lowercase, only `[a-z0-9_-]`, starting with a letter or digit ("" if none left)."""
    return _NOT_ALLOWED.sub("", name.lower()).lstrip("_-")


def checked_project_name(raw: str, given_as: str = "-p") -> str:
    """A name the user chose (`-p`, `COMPOSE_PROJECT_NAME`), lowercased; any other
    character is refused rather than silently dropped (`rel;x` is not `relx`).

    Raises:
        UsageError: `-p 'rel;x': a project name has only letters, digits, ...`.
    """
    if not _GIVEN.fullmatch(raw):
        raise UsageError(f"{given_as} {raw!r}: a project name has only {ALLOWED}")
    return raw.lower()


def project_name(
    explicit: str | None, declared: Node | None, variables: Mapping[str, str], directory: Path
) -> str:
    """Compose's order: the caller's name (`-p`), `COMPOSE_PROJECT_NAME` (environment
    or `.env`), the file's `name:`, the name of the project directory.

    A name the user chose is refused if it has other characters; only the folder's
    name is normalised, as Compose does.

    Raises:
        UsageError: `-p` or `COMPOSE_PROJECT_NAME` has characters a name may not have.
        SpecError: the file's `name:` has, or the folder's name has none allowed.
    """
    location = Location(directory)
    if explicit is not None:
        return checked_project_name(explicit)
    if variables.get("COMPOSE_PROJECT_NAME"):
        return checked_project_name(variables["COMPOSE_PROJECT_NAME"], "COMPOSE_PROJECT_NAME")
    if declared is not None and declared.value is not None:
        raw, location = declared.text(), declared.location
        if not _GIVEN.fullmatch(raw):
            raise SpecError(f"{raw!r}: a project name has only {ALLOWED}", location, "name")
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
