"""The fields a user fills in, declared once: front ends derive their flags and bodies.

`squall shape --loss-correlation 25%`, `{"loss_correlation": "25%"}` over HTTP and
`cluster.shape("a", loss_correlation="25%")` are the same field. It is written here,
once, with its help text and an example; the CLI makes its options from these
declarations and the HTTP API its body models, so a new field is added in one place.
Values stay strings as a user writes them (`"100ms"`, `"20%"`): `squall.faults.request`
parses them, so a bad value gets the same one-line message everywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from types import UnionType
from typing import (
    Annotated,
    Any,
    Literal,
    TypedDict,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from squall.faults.model import Direction, Proto
from squall.faults.shaper_config import Distribution


@dataclass(frozen=True)
class Doc:
    """What a front end shows of a field: help, an example, a default, a flag name."""

    help: str
    example: str | None = None
    default: str | None = None
    flag: str | None = None
    """The CLI's flag when it is not `--` + the name with `-` for `_`."""
    many: bool = False
    """Repeatable (`--to a --to b`), a list in JSON."""


class ShapeFields(TypedDict, total=False):
    """`squall shape`'s flags: Comcast's and Pumba's netem options, and a selector."""

    delay: Annotated[str, Doc("Added latency.", "100ms")]
    jitter: Annotated[str, Doc("Spread of the delay (needs --delay).", "10ms")]
    distribution: Annotated[Distribution, Doc("Shape of the jitter.", default="uniform")]
    correlation: Annotated[str, Doc("Delay correlation with the previous packet.", "25%")]
    loss: Annotated[str, Doc("Packets dropped.", "20%")]
    loss_correlation: Annotated[str, Doc("Loss correlation (bursts).", "25%")]
    rate: Annotated[str, Doc("Bandwidth cap: 50kbps (kilobytes/s), 2mbit (megabits/s)...", "2mbit")]
    duplicate: Annotated[str, Doc("Packets sent twice.", "1%")]
    corrupt: Annotated[str, Doc("Packets with one bit flipped.", "0.1%")]
    reorder: Annotated[str, Doc("Packets sent at once, ahead of delayed ones.", "5%")]
    to: Annotated[
        Sequence[str],
        Doc("Only traffic with these peers: service names or CIDRs (repeat or a,b).", many=True),
    ]
    port: Annotated[str, Doc("Only these destination ports.", "80,1000:2000")]
    proto: Annotated[Proto, Doc("Only this protocol.")]
    direction: Annotated[Direction, Doc("Outgoing, incoming, or both.", default="egress")]
    duration: Annotated[str, Doc("Remove this shape by itself after this long.", "30s")]


@dataclass(frozen=True)
class Field:
    """One declared field, read from its annotation."""

    name: str
    doc: Doc
    type: Any
    """The field's type without `Annotated` and without `| None`."""
    default: Any = None
    choices: tuple[str, ...] = ()
    """The allowed values, for a `Literal` field."""

    @property
    def flag(self) -> str:
        return self.doc.flag or "--" + self.name.replace("_", "-")


def fields_of(declaration: type[Any]) -> tuple[Field, ...]:
    """The `Doc`-annotated fields of a TypedDict or dataclass, in declaration order.

    A dataclass field's default is its own; a TypedDict's is its `Doc.default`.
    """
    defaults = {}
    if dataclasses.is_dataclass(declaration):
        defaults = {
            f.name: f.default
            for f in dataclasses.fields(declaration)
            if f.default is not dataclasses.MISSING
        }
    found = []
    for name, hint in get_type_hints(declaration, include_extras=True).items():
        docs = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Doc)]
        if not docs:
            continue
        inner = get_args(hint)[0]
        options = [a for a in get_args(inner) if a is not type(None)]
        if get_origin(inner) in (Union, UnionType) and len(options) == 1:
            inner = options[0]
        choices = tuple(str(a) for a in get_args(inner)) if get_origin(inner) is Literal else ()
        default = defaults.get(name, docs[0].default)
        found.append(Field(name, docs[0], inner, default, choices))
    return tuple(found)


SHAPE_FIELDS = fields_of(ShapeFields)

__all__ = ["SHAPE_FIELDS", "Doc", "Field", "ShapeFields", "fields_of"]
