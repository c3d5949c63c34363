"""Request and response bodies: the CLI's flags as JSON fields, same names, same strings.

Values such as `"100ms"`, `"20%"`, `"50kbps"` stay strings here: they are parsed by
`squall.faults.request`, the one place the CLI parses them too, so a bad value gets
the same one-line message over HTTP as in a terminal.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from squall.faults.model import Direction, Proto
from squall.faults.partition import JepsenShape
from squall.faults.shaper_config import Distribution

ActionName = Literal["start", "stop", "restart", "kill", "pause", "unpause"]
PresetRoute = Literal["slow", "flaky", "duplicate", "fast"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Targets(_Body):
    """`SERVICE... | --all | --random`: exactly one of the three."""

    services: list[str] = Field(default_factory=list, description="Service names.")
    all: bool = Field(default=False, description="Every service.")
    random: bool = Field(default=False, description="One service chosen at random.")


class PresetBody(Targets):
    dry_run: bool = Field(default=False, description="Return the kernel plan; change nothing.")


class ActionBody(Targets):
    action: ActionName
    signal: str | None = Field(default=None, description="For kill: the signal (default SIGKILL).")


class ShapeBody(Targets):
    """`squall shape`: every flag is a field of the same name (`-` becomes `_`)."""

    delay: str | None = Field(default=None, examples=["100ms"])
    jitter: str | None = Field(default=None, examples=["10ms"])
    distribution: Distribution = "uniform"
    correlation: str | None = Field(default=None, examples=["25%"])
    loss: str | None = Field(default=None, examples=["20%"])
    loss_correlation: str | None = None
    rate: str | None = Field(default=None, examples=["50kbps", "2mbit"])
    duplicate: str | None = None
    corrupt: str | None = None
    reorder: str | None = None
    to: list[str] = Field(default_factory=list, description="Peer services or CIDRs.")
    port: str | None = Field(default=None, examples=["80,1000:2000"])
    proto: Proto | None = None
    direction: Direction = "egress"
    duration: str | None = Field(default=None, description="Remove the shape after e.g. 30s.")
    dry_run: bool = False


class PartitionBody(_Body):
    """`squall partition` / `squall isolate`: exactly one of the forms."""

    groups: list[list[str]] = Field(
        default_factory=list,
        description="Groups that cannot reach each other; services not named form one more.",
        examples=[[["a", "b"], ["c"]]],
    )
    one_way: bool = Field(default=False, description="Two groups A B: A cannot reach B.")
    random: bool = Field(default=False, description="A random partition (Blockade).")
    shape: JepsenShape | None = Field(default=None, description="One of Jepsen's partition shapes.")
    seed: int | None = Field(default=None, description="Seed for random and shape.")
    isolate: list[str] = Field(
        default_factory=list, description="Cut each named service off from all others."
    )
    dry_run: bool = False


class ProbeBody(_Body):
    """`squall probe`: RTT and loss between every pair (of `services`, if named)."""

    services: list[str] = Field(default_factory=list)
    count: int = Field(default=20, ge=1, le=1000, description="Probes per pair.")
    timeout: float = Field(default=2.0, gt=0, le=30, description="Seconds to wait for echoes.")
    throughput: bool = Field(default=False, description="Also measure TCP throughput.")


class DryRunBody(_Body):
    dry_run: bool = False


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


class ChaosBody(_Body):
    """`squall chaos --detach`: a seeded schedule of faults, run in the background."""

    duration: str = Field(default="10m", examples=["10m", "30s"])
    seed: int | None = Field(default=None, description="Same seed, same timeline.")
    events: str = Field(default="partition,slow,flaky,duplicate,stop,kill,pause")
    interval: str = Field(default="5s..30s", description="Calm between rounds.")
    hold: str = Field(default="5s..30s", description="How long a round lasts.")
    at_once: str = Field(default="1..1", description="Faults per round.")


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
    "DryRunBody",
    "EventList",
    "Overview",
    "PartitionBody",
    "PresetBody",
    "PresetRoute",
    "ProbeBody",
    "ShapeBody",
    "ShapeView",
    "Targets",
    "UpBody",
]
