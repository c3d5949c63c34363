"""Every change a user can ask of a cluster, as one typed request.

A front end parses its input (flags, a JSON body, keyword arguments) into one of these
and hands it to `Operations.run`; nothing in a request has been checked against the
cluster yet (unknown services, bad durations): `Operations` does that before it
changes anything, the same way for every front end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal

from squall.faults.desired import ShapeEntry
from squall.faults.model import Partition
from squall.faults.partition import JepsenShape
from squall.ops.fields import Doc, ShapeFields
from squall.probe import DEFAULT_COUNT, DEFAULT_TIMEOUT
from squall.runtime.base import Action

PresetChoice = Literal["slow", "flaky", "duplicate", "fast"]
"""Blockade's network states: three presets, and `fast` that removes every shape."""


@dataclass(frozen=True)
class Targets:
    """`SERVICE... | --all | --random`: exactly one of the three (checked when run)."""

    services: Annotated[tuple[str, ...], Doc("Service names.", many=True)] = ()
    all: Annotated[bool, Doc("Every service.")] = False
    random: Annotated[bool, Doc("One of the services, chosen at random.")] = False

    @classmethod
    def of(cls, services: str | Sequence[str] | None) -> Targets:
        """One name, several, or None for every service (the Python API's convention)."""
        if services is None:
            return cls(all=True)
        return cls(services=(services,) if isinstance(services, str) else tuple(services))


@dataclass(frozen=True)
class ShapeRequest:
    targets: Targets
    fields: ShapeFields
    dry_run: bool = False
    origin: str = "shape"


@dataclass(frozen=True)
class PresetRequest:
    preset: PresetChoice
    targets: Targets
    dry_run: bool = False


@dataclass(frozen=True)
class PartitionRequest:
    """`squall partition` / `squall isolate`: exactly one of the forms."""

    groups: Annotated[
        tuple[tuple[str, ...], ...],
        Doc("Groups that cannot reach each other; services not named form one more."),
    ] = ()
    one_way: Annotated[bool, Doc("Two groups A B: A cannot reach B, B still reaches A.")] = False
    random: Annotated[bool, Doc("A random partition (Blockade).")] = False
    shape: Annotated[JepsenShape | None, Doc("One of Jepsen's partition shapes.")] = None
    seed: Annotated[int | None, Doc("Seed for random and shape.")] = None
    isolate: Annotated[
        tuple[str, ...], Doc("Cut each named service off from all others.", many=True)
    ] = ()
    zones: Annotated[
        bool, Doc("The groups name zones (x-squall: zones): each zone's services are one.")
    ] = False
    dry_run: Annotated[bool, Doc("Return the kernel plan; change nothing.")] = False


@dataclass(frozen=True)
class WanRequest:
    """`squall wan ZONE ZONE --rtt 80ms` (one link, live), or `--clear` (every link)."""

    zones: Annotated[tuple[str, ...], Doc("The two zones of the link.", many=True)] = ()
    rtt: Annotated[str | None, Doc("Round trip between them.", "80ms")] = None
    jitter: Annotated[str | None, Doc("Spread of the round trip.", "5ms")] = None
    loss: Annotated[str | None, Doc("Packets lost each way.", "0.1%")] = None
    rate: Annotated[str | None, Doc("Bandwidth each way.", "200mbit")] = None
    clear: Annotated[bool, Doc("Remove every WAN link's shapes.")] = False
    dry_run: Annotated[bool, Doc("Return the kernel plan; change nothing.")] = False


@dataclass(frozen=True)
class JoinRequest:
    dry_run: bool = False


@dataclass(frozen=True)
class ReconcileRequest:
    """Make the kernel hold the recorded faults again, everywhere (after a restart
    outside Squall, a rule removed by hand); the watcher does it by itself too."""

    dry_run: bool = False


@dataclass(frozen=True)
class RestoreRequest:
    """Put back faults saved before (a `with` block ending, a test healing).

    `partition` None keeps the partition in force; `shapes` names the services whose
    shapes are replaced by the saved ones.
    """

    partition: Partition | None = None
    shapes: Mapping[str, Sequence[ShapeEntry]] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionRequest:
    action: Action
    targets: Targets
    signal: str | None = None
    """For kill: the signal (default SIGKILL)."""


@dataclass(frozen=True)
class HealRequest:
    """Join, remove every shape, start what is stopped and unpause what is paused."""


@dataclass(frozen=True)
class UpRequest:
    build: bool = False
    force: bool = False
    services: tuple[str, ...] = ()
    """`up SERVICE...`: these and what they need (empty: every service)."""
    no_deps: bool = False
    """With `services`: only those, not what they depend on."""


@dataclass(frozen=True)
class DownRequest:
    volumes: bool = False
    images: bool = False
    """Also remove the images built for the cluster's `build:` services."""


@dataclass(frozen=True)
class NetCreateRequest:
    name: str
    subnet: str | None = None
    internal: bool = False


@dataclass(frozen=True)
class NetRemoveRequest:
    name: str


@dataclass(frozen=True)
class NetConnectRequest:
    network: str
    service: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetDisconnectRequest:
    network: str
    service: str


@dataclass(frozen=True)
class ChaosRequest:
    """`squall chaos`: a seeded schedule of faults (see `squall.chaos`)."""

    duration: Annotated[str, Doc("How long to run.", "10m", default="10m")] = "10m"
    seed: Annotated[int | None, Doc("Same seed, same cluster: same timeline.")] = None
    events: Annotated[
        str, Doc("Kinds of fault to draw from (isolate: Blockade's PARTITION).", "isolate,slow")
    ] = "partition,slow,flaky,duplicate,stop,kill,pause"
    interval: Annotated[str, Doc("Calm between rounds.", "5s..30s")] = "5s..30s"
    hold: Annotated[str, Doc("How long a round lasts.", "5s..30s")] = "5s..30s"
    at_once: Annotated[
        str, Doc("Services that get a fault each round, each a different one.", "1..2")
    ] = "1..1"


@dataclass(frozen=True)
class ProbeRequest:
    """`squall probe`: RTT and loss between every pair (of `services`, if named).

    A read: it changes nothing, so it is no `ChangeRequest`.
    """

    services: tuple[str, ...] = ()
    count: int = DEFAULT_COUNT
    timeout: float = DEFAULT_TIMEOUT
    throughput_seconds: float | None = None


@dataclass(frozen=True)
class BlockadeChaosRequest:
    """Blockade's chaos (`POST`/`PUT /blockade/NAME/chaos`), its options as its client
    sent them: start delays and run times in milliseconds, containers per round, the
    event set (see `squall.ops.blockade`).

    With `update` (PUT), the options given replace those of the run going on, which
    heals and starts again with them; with no run going on it is refused, as Blockade
    refused it.
    """

    options: Mapping[str, object] = field(default_factory=dict)
    update: bool = False


@dataclass(frozen=True)
class ChaosStopRequest:
    """End the cluster's chaos run; it heals what it did."""

    required: bool = False
    """Refuse when no run is going on (Blockade's DELETE did)."""


ChangeRequest = (
    ShapeRequest
    | PresetRequest
    | PartitionRequest
    | WanRequest
    | JoinRequest
    | ReconcileRequest
    | RestoreRequest
    | ActionRequest
    | HealRequest
    | UpRequest
    | DownRequest
    | NetCreateRequest
    | NetRemoveRequest
    | NetConnectRequest
    | NetDisconnectRequest
    | ChaosRequest
    | BlockadeChaosRequest
    | ChaosStopRequest
)

__all__ = [
    "ActionRequest",
    "BlockadeChaosRequest",
    "ChangeRequest",
    "ChaosRequest",
    "ChaosStopRequest",
    "DownRequest",
    "HealRequest",
    "JoinRequest",
    "NetConnectRequest",
    "NetCreateRequest",
    "NetDisconnectRequest",
    "NetRemoveRequest",
    "PartitionRequest",
    "PresetChoice",
    "PresetRequest",
    "ProbeRequest",
    "ReconcileRequest",
    "RestoreRequest",
    "ShapeRequest",
    "Targets",
    "UpRequest",
]
