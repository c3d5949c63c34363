"""Request and response bodies: the CLI's flags as JSON fields, same names, same strings.

The bodies of changes are made from the declarations in `squall.ops` (the same ones
the CLI makes its flags from), so a field is declared once. Values such as `"100ms"`,
`"20%"`, `"50kbps"` stay strings: `squall.ops` parses them, so a bad value gets the same
one-line message over HTTP as in a terminal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, create_model

from squall.ops import fields as declared
from squall.ops.requests import ChaosRequest, PartitionRequest, Targets

ActionName = Literal["start", "stop", "restart", "kill", "pause", "unpause"]
PresetRoute = Literal["slow", "flaky", "duplicate", "fast"]
R = TypeVar("R")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _json_type(hint: Any) -> Any:
    """Tuples and sequences become lists in JSON."""
    if get_origin(hint) in (tuple, Sequence):
        inner = [a for a in get_args(hint) if a is not Ellipsis]
        return list[_json_type(inner[0]) if inner else Any]  # type: ignore[misc]
    return hint


def _field_definitions(found: Iterable[declared.Field]) -> dict[str, Any]:
    definitions: dict[str, Any] = {}
    for f in found:
        kind = _json_type(f.type)
        examples = [f.doc.example] if f.doc.example else None
        spec: Any
        if get_origin(kind) is list:
            spec = Field(default_factory=list, description=f.doc.help)
        elif f.default is None:
            kind = kind | None
            spec = Field(default=None, description=f.doc.help, examples=examples)
        else:
            spec = Field(default=f.default, description=f.doc.help, examples=examples)
        definitions[f.name] = (kind, spec)
    return definitions


def _body(name: str, doc: str, base: type[BaseModel], found: Iterable[declared.Field]) -> Any:
    return create_model(name, __base__=base, __doc__=doc, **_field_definitions(found))


class TargetsBody(_Body):
    """`SERVICE... | --all | --random`: exactly one of the three."""

    services: list[str] = Field(default_factory=list, description="Service names.")
    all: bool = Field(default=False, description="Every service.")
    random: bool = Field(default=False, description="One service chosen at random.")


class PresetBody(TargetsBody):
    dry_run: bool = Field(default=False, description="Return the kernel plan; change nothing.")


class ActionBody(TargetsBody):
    action: ActionName
    signal: str | None = Field(default=None, description="For kill: the signal (default SIGKILL).")


if TYPE_CHECKING:
    # A type checker sees a model made at run time as its base; routes read these
    # bodies only through `to_request` and `shape_fields_of`.
    ShapeBody = PresetBody
    PartitionBody = _Body
    ChaosBody = _Body
else:
    ShapeBody = _body(
        "ShapeBody", "`squall shape`: every flag is a field of the same name (`-` becomes `_`).",
        PresetBody, declared.SHAPE_FIELDS,
    )  # fmt: skip
    PartitionBody = _body(
        "PartitionBody", "`squall partition` / `squall isolate`: exactly one of the forms.",
        _Body, declared.fields_of(PartitionRequest),
    )  # fmt: skip
    ChaosBody = _body(
        "ChaosBody", "`squall chaos --detach`: a seeded schedule of faults, in the background.",
        _Body, declared.fields_of(ChaosRequest),
    )  # fmt: skip


def to_request(body: BaseModel, kind: type[R], **extra: Any) -> R:
    """The ops request a body stands for: JSON lists become tuples, as requests hold."""

    def frozen(value: Any) -> Any:
        return tuple(frozen(v) for v in value) if isinstance(value, list) else value

    names = {f.name for f in dataclasses.fields(cast(Any, kind))}
    given = {k: frozen(v) for k, v in body.model_dump().items() if k in names}
    return kind(**given, **extra)


def targets_of(body: BaseModel) -> Targets:
    return to_request(body, Targets)


def shape_fields_of(body: BaseModel) -> declared.ShapeFields:
    values = body.model_dump()
    chosen = {
        f.name: values[f.name]
        for f in declared.SHAPE_FIELDS
        if values.get(f.name) is not None and values.get(f.name) != []
    }
    return cast(declared.ShapeFields, chosen)


class ProbeBody(_Body):
    """`squall probe`: RTT and loss between every pair (of `services`, if named)."""

    services: list[str] = Field(default_factory=list)
    count: int = Field(default=20, ge=1, le=1000, description="Probes per pair.")
    timeout: float = Field(default=2.0, gt=0, le=30, description="Seconds to wait for echoes.")
    throughput: bool = Field(default=False, description="Also measure TCP throughput.")


class UpBody(_Body):
    build: bool = False
    force: bool = False


class DownBody(_Body):
    volumes: bool = False
    rmi: Literal["local"] | None = None


class Changed(BaseModel):
    """What a change did: the command, the services it touched, a line for people."""

    what: str
    services: list[str] = Field(default_factory=list)
    message: str
    dry_run: bool = False
    plan: list[str] = Field(
        default_factory=list, description="With dry_run: the kernel rules per namespace."
    )
    notes: list[str] = Field(default_factory=list)


class ApiError(BaseModel):
    """Every error: one line, the Squall error's class, and the service it names."""

    error: str
    type: str
    service: str | None = None


class ClusterInfo(BaseModel):
    name: str
    file: str | None
    url: str


class ClusterList(BaseModel):
    clusters: list[ClusterInfo]


class ShapeView(BaseModel):
    description: str
    origin: str
    to_services: list[str]
    shape: dict[str, Any]


class Overview(BaseModel):
    """Everything the dashboard draws, in one read."""

    name: str
    file: str | None
    status: dict[str, Any] = Field(description="As `squall status --json`.")
    networks: list[dict[str, Any]] = Field(description="As `squall net ls --json`.")
    shapes: dict[str, list[ShapeView]]
    presets: dict[str, str]
    holy: list[str]
    neutral: list[str]
    features: dict[str, bool] = Field(description="Optional routes this server answers.")


class ChaosStatus(BaseModel):
    running: bool
    pid: int | None = None
    seed: int | None = None


class EventList(BaseModel):
    events: list[dict[str, Any]]
    offset: int = Field(description="Pass as `since` to get only later events.")


__all__ = [
    "ActionBody",
    "ActionName",
    "ApiError",
    "Changed",
    "ChaosBody",
    "ChaosStatus",
    "ClusterInfo",
    "ClusterList",
    "DownBody",
    "EventList",
    "Overview",
    "PartitionBody",
    "PresetBody",
    "PresetRoute",
    "ProbeBody",
    "ShapeBody",
    "ShapeView",
    "TargetsBody",
    "UpBody",
    "shape_fields_of",
    "targets_of",
    "to_request",
]
