"""Durations, rates and percentages: the one place they are parsed and printed.

Values keep the unit the user wrote, so `100ms` prints back as `100ms` and `50kbps`
as `50kbps`; equality compares the quantity only (`1s == 1000ms`). Quantities are held
as exact integers (nanoseconds, bits per second, parts per billion), so printing and
parsing again always gives an equal value.

Rate units are exactly tc's (tc-bfifo(8), "UNITS"), which trips people up:

    bit  kbit  mbit  gbit  tbit   bits per second     (k = 1000)
    bps  kbps  mbps  gbps  tbps   BYTES per second    (so 50kbps = 400kbit)
    kibit mibit gibit  kibps mibps gibps              (binary, k = 1024)

A bare number is bits per second, as in tc. Comcast's `-default-bw 50` is kbit/s, that
is `50kbit` here. Percentages are `20%` or a bare number meaning percent (`20`), as
tc-netem reads them; a 0..1 fraction is not accepted because `--loss 1` would be
ambiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Final

from squall.errors import UsageError

_NUMBER = r"(?P<num>-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"

DURATION_UNITS: Final[dict[str, int]] = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
"""Nanoseconds per unit. `usec`, `msec`, `sec`, `min` are accepted as spellings."""

_DURATION_ALIASES: Final[dict[str, str]] = {
    "usec": "us",
    "µs": "us",
    "msec": "ms",
    "sec": "s",
    "secs": "s",
    "min": "m",
    "mins": "m",
}

RATE_UNITS: Final[dict[str, int]] = {
    "bit": 1,
    "kbit": 1_000,
    "mbit": 1_000_000,
    "gbit": 1_000_000_000,
    "tbit": 1_000_000_000_000,
    "kibit": 1024,
    "mibit": 1024**2,
    "gibit": 1024**3,
    "bps": 8,
    "kbps": 8_000,
    "mbps": 8_000_000,
    "gbps": 8_000_000_000,
    "tbps": 8_000_000_000_000,
    "kibps": 8 * 1024,
    "mibps": 8 * 1024**2,
    "gibps": 8 * 1024**3,
}
"""Bits per second per unit, as tc defines them."""

_PPB_PER_PERCENT: Final = 10_000_000


def shown(text: str) -> str:
    """A user's value as an error quotes it: on one line (control characters escaped)."""
    return text if text.isprintable() else repr(text)


def _fail(flag: str, text: str, reason: str) -> UsageError:
    where = f"{flag} {shown(text)}" if flag else shown(text)
    return UsageError(f"{where}: {reason}")


def _split(text: str, flag: str, what: str, examples: str) -> tuple[Decimal, str]:
    match = re.fullmatch(_NUMBER + r"\s*(?P<unit>[a-zA-Zµ%]*)", text.strip())
    if match is None:
        raise _fail(flag, text, f"not a {what} (examples: {examples})")
    try:
        number = Decimal(match["num"])
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise _fail(flag, text, f"not a {what} (examples: {examples})") from exc
    return number, match["unit"]


def _to_int(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_EVEN))


def _format_number(value: Decimal) -> str:
    """`Decimal` without exponent or trailing zeros: 1.50 -> 1.5, 1E+2 -> 100."""
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


@dataclass(frozen=True)
class Duration:
    """A time span; `unit` only decides how it prints."""

    ns: int
    unit: str = field(default="ms", compare=False)

    @property
    def seconds(self) -> float:
        return self.ns / 1e9

    def tc(self) -> str:
        """For tc, which reads microseconds at most: `100ms`, `1500us`."""
        if self.ns % 1_000_000 == 0:
            return f"{self.ns // 1_000_000}ms"
        return f"{_to_int(Decimal(self.ns) / 1000)}us"

    def __str__(self) -> str:
        return _format_number(Decimal(self.ns) / DURATION_UNITS[self.unit]) + self.unit

    @classmethod
    def of_seconds(cls, seconds: float, unit: str = "s") -> Duration:
        return cls(_to_int(Decimal(repr(seconds)) * DURATION_UNITS["s"]), unit)


@dataclass(frozen=True)
class Rate:
    """A bandwidth in bits per second; `unit` only decides how it prints."""

    bits_per_second: int
    unit: str = field(default="kbit", compare=False)

    @property
    def bytes_per_second(self) -> float:
        return self.bits_per_second / 8

    def tc(self) -> str:
        """For tc, whose units these are: printed as written (`50kbps`)."""
        return str(self)

    def __str__(self) -> str:
        return _format_number(Decimal(self.bits_per_second) / RATE_UNITS[self.unit]) + self.unit


@dataclass(frozen=True)
class Percent:
    """A probability, held in parts per billion (finer than iptables' 2^-31 step)."""

    ppb: int

    @property
    def fraction(self) -> float:
        """0..1, as the shaper config and iptables `--probability` want it."""
        return self.ppb / 1e9

    def __bool__(self) -> bool:
        return self.ppb > 0

    def __str__(self) -> str:
        return _format_number(Decimal(self.ppb) / _PPB_PER_PERCENT) + "%"

    @classmethod
    def of_fraction(cls, fraction: float) -> Percent:
        return cls(_to_int(Decimal(repr(fraction)) * 1_000_000_000))


def parse_duration(text: str, flag: str = "") -> Duration:
    """`100ms`, `1.5s`, `2m`, `10us`; a bare number other than 0 is refused.

    Raises:
        UsageError: `--delay fast: not a duration (examples: 100ms, 1.5s)`.
    """
    number, unit = _split(text, flag, "duration", "100ms, 1.5s")
    if not unit and number != 0:
        # tc reads a bare number as microseconds, Comcast as milliseconds: ask instead.
        raise _fail(flag, text, "needs a unit (examples: 100ms, 1.5s)")
    unit = _DURATION_ALIASES.get(unit.lower(), unit.lower()) if unit else "ms"
    if number < 0:
        raise _fail(flag, text, "must not be negative")
    if unit not in DURATION_UNITS:
        raise _fail(flag, text, f"unknown unit {unit!r} (use one of: us, ms, s, m, h)")
    return Duration(_to_int(number * DURATION_UNITS[unit]), unit)


def parse_rate(text: str, flag: str = "") -> Rate:
    """tc's units: `50kbps` is 50 kilobytes/s, `10mbit` 10 megabits/s; bare = bit/s.

    Raises:
        UsageError: `--rate quick: not a rate (examples: 50kbps, 10mbit)`, or zero.
    """
    number, unit = _split(text, flag, "rate", "50kbps, 10mbit")
    unit = unit.lower() or "bit"
    if unit not in RATE_UNITS:
        names = "bit, kbit, mbit, gbit, bps, kbps, mbps, gbps"
        raise _fail(flag, text, f"unknown unit {unit!r} (use one of: {names})")
    bits = _to_int(number * RATE_UNITS[unit])
    if bits <= 0:
        raise _fail(flag, text, "must be more than 0")
    return Rate(bits, unit)


def parse_percent(text: str, flag: str = "") -> Percent:
    """`20%`, `0.1%`, or a bare number meaning percent (`20`), as tc-netem reads it.

    Raises:
        UsageError: `--loss 120%: must be between 0% and 100%`.
    """
    number, unit = _split(text, flag, "percentage", "20%, 0.1%")
    if unit not in ("", "%"):
        raise _fail(flag, text, "not a percentage (examples: 20%, 0.1%)")
    if not 0 <= number <= 100:
        raise _fail(flag, text, "must be between 0% and 100%")
    ppb = _to_int(number * _PPB_PER_PERCENT)
    if number and not ppb:
        raise _fail(flag, text, f"must be 0 or at least {Percent(1)}, the finest step")
    return Percent(ppb)


__all__ = [
    "DURATION_UNITS",
    "RATE_UNITS",
    "Duration",
    "Percent",
    "Rate",
    "parse_duration",
    "parse_percent",
    "parse_rate",
    "shown",
]
