"""Faults as frozen data: what a user asked for, before any kernel is involved.

A `Shape` is Comcast's and netem's knobs plus a `Selector` (which packets); a
`Partition` is a set of directed cuts between services; `NamespaceFaults` is all that
one network namespace should hold, with peers already resolved to addresses. All of it
round-trips through JSON, because desired state lives in the state directory.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal, cast, get_args

from squall.errors import UsageError
from squall.faults.shaper_config import Distribution
from squall.units import (
    Duration,
    Percent,
    Rate,
    parse_duration,
    parse_percent,
    parse_rate,
)

Direction = Literal["egress", "ingress", "both"]
Way = Literal["egress", "ingress"]
Proto = Literal["tcp", "udp", "icmp"]
PresetName = Literal["slow", "flaky", "duplicate"]

DISTRIBUTIONS: Final[tuple[str, ...]] = get_args(Distribution)
PROTOS: Final[tuple[str, ...]] = get_args(Proto)
DIRECTIONS: Final[tuple[str, ...]] = get_args(Direction)
TAG_MAX: Final = 16
"""Chain names are `SQUALL-<tag>-POST`; iptables allows 28 characters."""

RATE_MIN: Final = Rate(8, "bit")
"""tc counts whole bytes per second: below 8bit there is no rate left."""
RATE_MAX: Final = Rate(10**15, "tbit")
"""1000tbit: above any link, and well inside tc's limit (2^64-1 bytes/s)."""
DELAY_MAX: Final = Duration(3_600 * 10**9, "h")
"""1h for `--delay` and `--jitter`: a packet held longer outlives every TCP timer."""

_TAG_RE = re.compile(r"[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*")


def make_tag(cluster: str) -> str:
    """A short, kernel-safe tag for a cluster name; long names keep a hash suffix."""
    clean = re.sub(r"[^A-Za-z0-9_]+", "-", cluster).strip("-") or "x"
    if len(clean) <= TAG_MAX:
        return clean
    digest = hashlib.sha1(cluster.encode()).hexdigest()[:4]
    return f"{clean[: TAG_MAX - 5].rstrip('-')}-{digest}"


def check_tag(tag: str) -> str:
    if len(tag) > TAG_MAX or not _TAG_RE.fullmatch(tag):
        raise UsageError(f"fault tag {tag!r}: use up to {TAG_MAX} letters, digits, '_' and '-'")
    return tag


@dataclass(frozen=True, order=True)
class PortRange:
    first: int
    last: int

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}:{self.last}"


def parse_ports(text: str, flag: str = "--port") -> tuple[PortRange, ...]:
    """`80`, `80,443`, `1000:2000` or `1000-2000`, combined with commas."""
    ranges: list[PortRange] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:[:-]\s*(\d+)\s*)?", part)
        if match is None:
            raise UsageError(f"{flag} {text}: not a port list (examples: 80, 80,443, 1000:2000)")
        first = int(match[1])
        last = int(match[2]) if match[2] else first
        if not 1 <= first <= last <= 65535:
            raise UsageError(f"{flag} {text}: ports are 1..65535, ranges low:high")
        ranges.append(PortRange(first, last))
    return _merge_ports(ranges)


def _merge_ports(ranges: Iterable[PortRange]) -> tuple[PortRange, ...]:
    merged: list[PortRange] = []
    for r in sorted(ranges):
        if merged and r.first <= merged[-1].last + 1:
            merged[-1] = PortRange(merged[-1].first, max(merged[-1].last, r.last))
        else:
            merged.append(r)
    return tuple(merged)


def parse_peer(text: str, flag: str = "--to") -> str:
    """An IPv4 address or CIDR, normalised (`10.0.0.7` -> `10.0.0.7/32`).

    Service names are resolved to addresses by the caller before they get here.
    """
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise UsageError(f"{flag} {text}: not a service, address or CIDR") from exc
    if net.version != 4:
        raise UsageError(f"{flag} {text}: only IPv4 is supported for now")
    return str(net)


@dataclass(frozen=True)
class Selector:
    """Which packets a shape applies to; empty fields mean "all".

    `ports` match the packet's destination port in either direction: egress to a
    peer's service port, ingress to this service's own port.
    """

    peers: tuple[str, ...] = ()
    ports: tuple[PortRange, ...] = ()
    proto: Proto | None = None
    direction: Direction = "egress"

    def __post_init__(self) -> None:
        object.__setattr__(self, "peers", tuple(sorted({parse_peer(p) for p in self.peers})))
        object.__setattr__(self, "ports", _merge_ports(self.ports))
        if self.proto is not None and self.proto not in PROTOS:
            raise UsageError(f"--proto {self.proto}: use one of {', '.join(PROTOS)}")
        if self.direction not in DIRECTIONS:
            raise UsageError(f"--direction {self.direction}: use one of {', '.join(DIRECTIONS)}")
        if self.ports and self.proto == "icmp":
            raise UsageError("--port: icmp has no ports")

    @property
    def ways(self) -> tuple[Way, ...]:
        if self.direction == "both":
            return ("egress", "ingress")
        return (self.direction,)

    def __str__(self) -> str:
        parts = []
        if self.peers:
            parts.append("peers " + ",".join(self.peers))
        if self.ports:
            parts.append("port " + ",".join(map(str, self.ports)))
        if self.proto:
            parts.append(self.proto)
        parts.append(self.direction)
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "peers": list(self.peers),
            "ports": ",".join(map(str, self.ports)),
            "proto": self.proto,
            "direction": self.direction,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Selector:
        ports = str(raw.get("ports") or "")
        return cls(
            peers=tuple(raw.get("peers", ())),
            ports=parse_ports(ports) if ports else (),
            proto=raw.get("proto"),
            direction=raw.get("direction", "egress"),
        )


def specificity(selector: Selector) -> int:
    """Higher for narrower selectors; orders shapes so the narrowest matches first."""
    return 4 * bool(selector.peers) + 2 * bool(selector.ports) + bool(selector.proto)


_DURATION_FIELDS: Final = ("delay", "jitter")
_PERCENT_FIELDS: Final = (
    "correlation",
    "loss",
    "loss_correlation",
    "duplicate",
    "corrupt",
    "reorder",
)


@dataclass(frozen=True)
class Shape:
    """One set of netem-like impairments for the packets its selector picks.

    `correlation` is the delay correlation (netem's third `delay` argument).
    `expires_at` is a Unix time after which the shape no longer applies (`--duration`).
    """

    delay: Duration | None = None
    jitter: Duration | None = None
    distribution: Distribution = "uniform"
    correlation: Percent | None = None
    loss: Percent | None = None
    loss_correlation: Percent | None = None
    rate: Rate | None = None
    duplicate: Percent | None = None
    corrupt: Percent | None = None
    reorder: Percent | None = None
    selector: Selector = field(default_factory=Selector)
    expires_at: float | None = None

    def __post_init__(self) -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise UsageError(
                f"--distribution {self.distribution}: use one of {', '.join(DISTRIBUTIONS)}"
            )
        delayed = self.delay is not None and self.delay.ns > 0
        if self.jitter and self.jitter.ns and not delayed:
            raise UsageError("--jitter: needs --delay")
        if self.reorder and not delayed:
            raise UsageError("--reorder: needs --delay (reordered packets skip the delay)")
        if self.loss_correlation and not self.loss:
            raise UsageError("--loss-correlation: needs --loss")
        if self.is_empty:
            raise UsageError("nothing to shape: give --delay, --loss, --rate, ...")
        _check_limits(self)

    @property
    def is_empty(self) -> bool:
        return not (
            (self.delay and self.delay.ns)
            or self.loss
            or self.rate
            or self.duplicate
            or self.corrupt
        )

    @property
    def delayed(self) -> bool:
        return self.delay is not None and self.delay.ns > 0

    def active(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at

    def __str__(self) -> str:
        parts: list[str] = []
        if self.delay:
            parts.append(f"delay {self.delay}")
            if self.jitter:
                parts.append(f"jitter {self.jitter}")
            if self.correlation:
                parts.append(f"correlation {self.correlation}")
            if self.jitter and self.distribution != "uniform":
                parts.append(f"distribution {self.distribution}")
        if self.loss:
            parts.append(f"loss {self.loss}")
            if self.loss_correlation:
                parts.append(f"loss-correlation {self.loss_correlation}")
        for name in ("rate", "duplicate", "corrupt", "reorder"):
            value = getattr(self, name)
            if value:
                parts.append(f"{name} {value}")
        return " ".join(parts) + f" ({self.selector})"

    def to_dict(self) -> dict[str, Any]:
        raw: dict[str, Any] = {"distribution": self.distribution}
        for name in (*_DURATION_FIELDS, *_PERCENT_FIELDS, "rate"):
            value = getattr(self, name)
            raw[name] = None if value is None else str(value)
        raw["selector"] = self.selector.to_dict()
        raw["expires_at"] = self.expires_at
        return raw

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Shape:
        def get(name: str) -> str | None:
            value = raw.get(name)
            return None if value is None else str(value)

        def duration(name: str) -> Duration | None:
            value = get(name)
            return parse_duration(value) if value else None

        def percent(name: str) -> Percent | None:
            value = get(name)
            return parse_percent(value) if value else None

        rate = get("rate")
        return cls(
            delay=duration("delay"),
            jitter=duration("jitter"),
            distribution=cast(Distribution, raw.get("distribution", "uniform")),
            correlation=percent("correlation"),
            loss=percent("loss"),
            loss_correlation=percent("loss_correlation"),
            rate=parse_rate(rate) if rate else None,
            duplicate=percent("duplicate"),
            corrupt=percent("corrupt"),
            reorder=percent("reorder"),
            selector=Selector.from_dict(raw.get("selector", {})),
            expires_at=raw.get("expires_at"),
        )


def _check_limits(shape: Shape) -> None:
    """Refuse, before any kernel sees them, values that tc or the shaper cannot take.

    Raises:
        UsageError: `--rate 99999999999999999999tbit: at most 1000tbit (tc's limit...)`.
    """
    if shape.rate is not None and shape.rate.bits_per_second < RATE_MIN.bits_per_second:
        raise UsageError(
            f"--rate {shape.rate}: at least {RATE_MIN} (tc counts whole bytes per second)"
        )
    if shape.rate is not None and shape.rate.bits_per_second > RATE_MAX.bits_per_second:
        raise UsageError(f"--rate {shape.rate}: at most {RATE_MAX}")
    for name in _DURATION_FIELDS:
        value: Duration | None = getattr(shape, name)
        if value is not None and value.ns > DELAY_MAX.ns:
            raise UsageError(f"--{name} {value}: at most {DELAY_MAX}")


def parse_preset(name: PresetName, text: str) -> Shape:
    """Blockade's preset strings, which are netem arguments.

    slow: `DELAY [JITTER [CORRELATION]] [distribution NAME]`, e.g.
    "75ms 100ms distribution normal"; flaky: `[random] PERCENT [CORRELATION]` ("30%");
    duplicate: `PERCENT [CORRELATION]` ("5%").
    """
    flag = f"preset {name}"
    words = text.split()
    if name == "slow":
        distribution = "uniform"
        if "distribution" in words:
            at = words.index("distribution")
            if at + 1 >= len(words):
                raise UsageError(f"{flag} {text!r}: 'distribution' needs a name")
            distribution = words[at + 1]
            del words[at : at + 2]
        if not 1 <= len(words) <= 3:
            raise UsageError(f"{flag} {text!r}: expected 'DELAY [JITTER [CORRELATION]]'")
        delay = parse_duration(words[0], flag)
        jitter = parse_duration(words[1], flag) if len(words) > 1 else None
        correlation = parse_percent(words[2], flag) if len(words) > 2 else None
        return Shape(
            delay=delay,
            jitter=jitter,
            correlation=correlation,
            distribution=cast(Distribution, distribution),
        )
    if name == "flaky" and words[:1] == ["random"]:
        words = words[1:]
    if name not in ("flaky", "duplicate"):
        raise UsageError(f"unknown preset {name!r} (slow, flaky, duplicate)")
    if not 1 <= len(words) <= 2:
        raise UsageError(f"{flag} {text!r}: expected 'PERCENT [CORRELATION]'")
    value = parse_percent(words[0], flag)
    corr = parse_percent(words[1], flag) if len(words) > 1 else None
    if name == "flaky":
        return Shape(loss=value, loss_correlation=corr)
    return Shape(duplicate=value)


@dataclass(frozen=True, order=True)
class Cut:
    """Packets from `src` to `dst` are dropped.

    `one_way`: only packets of connections `src` opens are dropped, so `dst` can
    still reach `src` and get replies (conntrack's original direction).
    """

    src: str
    dst: str
    one_way: bool = False


@dataclass(frozen=True)
class Partition:
    """A set of cuts between services, and how it was asked for (for `status`)."""

    cuts: tuple[Cut, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()
    kind: str = "none"

    def __post_init__(self) -> None:
        # Cut's own order, by a key made once per cut: comparing 500,000 dataclasses
        # pairwise (a 500|500 partition) took a minute, these tuples take a second.
        unique = set(self.cuts)
        object.__setattr__(
            self, "cuts", tuple(sorted(unique, key=lambda c: (c.src, c.dst, c.one_way)))
        )

    def __bool__(self) -> bool:
        return bool(self.cuts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "groups": [list(g) for g in self.groups],
            "cuts": [[c.src, c.dst, c.one_way] for c in self.cuts],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Partition:
        return cls(
            cuts=tuple(Cut(str(s), str(d), bool(o)) for s, d, o in raw.get("cuts", ())),
            groups=tuple(tuple(g) for g in raw.get("groups", ())),
            kind=str(raw.get("kind", "none")),
        )


@dataclass(frozen=True)
class Blocks:
    """Partition cuts as one namespace sees them: CIDRs to drop, per direction.

    `*_originated`: drop only packets of connections opened in that direction
    (egress: ones this service opens; ingress: ones the peer opens), replies pass.
    """

    egress: tuple[str, ...] = ()
    ingress: tuple[str, ...] = ()
    egress_originated: tuple[str, ...] = ()
    ingress_originated: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("egress", "ingress", "egress_originated", "ingress_originated"):
            value = getattr(self, name)
            object.__setattr__(self, name, tuple(sorted({parse_peer(p) for p in value})))

    def __bool__(self) -> bool:
        return bool(
            self.egress or self.ingress or self.egress_originated or self.ingress_originated
        )


@dataclass(frozen=True)
class NamespaceFaults:
    """Everything one network namespace should hold for one cluster."""

    tag: str
    netns: str
    """`/proc/<pid>/ns/net` or `/run/netns/<name>`."""
    label: str
    """`<project>/<service>`, for logs, status and the shaper."""
    shapes: tuple[Shape, ...] = ()
    """In precedence order: the first shape whose selector matches a packet applies."""
    blocks: Blocks = field(default_factory=Blocks)

    def __post_init__(self) -> None:
        check_tag(self.tag)

    def with_shape(self, shape: Shape) -> NamespaceFaults:
        """Add `shape`, replacing one with the same selector (a repeated command).

        Shapes do not stack: a packet gets the first shape whose selector matches,
        so more specific selectors go first (peers, then ports, then protocol), and
        among equals the newest first.
        """
        others = [s for s in self.shapes if s.selector != shape.selector]
        ordered = sorted([shape, *others], key=lambda s: -specificity(s.selector))
        return replace(self, shapes=tuple(ordered))

    def active(self, now: float) -> NamespaceFaults:
        """Without the shapes whose `--duration` is over."""
        return replace(self, shapes=tuple(s for s in self.shapes if s.active(now)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "netns": self.netns,
            "label": self.label,
            "shapes": [s.to_dict() for s in self.shapes],
            "blocks": {
                "egress": list(self.blocks.egress),
                "ingress": list(self.blocks.ingress),
                "egress_originated": list(self.blocks.egress_originated),
                "ingress_originated": list(self.blocks.ingress_originated),
            },
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> NamespaceFaults:
        blocks = raw.get("blocks", {})
        return cls(
            tag=str(raw["tag"]),
            netns=str(raw["netns"]),
            label=str(raw.get("label", "")),
            shapes=tuple(Shape.from_dict(s) for s in raw.get("shapes", ())),
            blocks=Blocks(**{k: tuple(v) for k, v in blocks.items()}),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> NamespaceFaults:
        return cls.from_dict(json.loads(text))


__all__ = [
    "DELAY_MAX",
    "DIRECTIONS",
    "DISTRIBUTIONS",
    "PROTOS",
    "RATE_MAX",
    "RATE_MIN",
    "Blocks",
    "Cut",
    "Direction",
    "NamespaceFaults",
    "Partition",
    "PortRange",
    "PresetName",
    "Proto",
    "Selector",
    "Shape",
    "Way",
    "check_tag",
    "make_tag",
    "parse_peer",
    "parse_ports",
    "parse_preset",
    "specificity",
]
