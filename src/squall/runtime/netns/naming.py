"""Names and labels of what the netns backend creates. Pure: no kernel, no I/O.

Everything is found again from the kernel by the names given here, so `status` and
`down` work after a crash of Squall, of a service or of the supervisor, and after the
state directory is lost. The scheme, for project `P` and `K = sha1(P)[:6]`:

- network namespace: `/run/netns/squall-P.SERVICE` (a bind mount; P has no `.`);
- bridge, one per network: `sqK` + `n` + index (<= 15 characters), with ifalias
  `squall p=P n=NETWORK subnet=... gw=... internal=0|1 adhoc=0|1`;
- veth, host end: `sqK` + `v` + index, ifalias `squall p=P s=SERVICE n=NETWORK if=ethN
  ip=ADDR/LEN a=ALIASES`; namespace end: `eth0`, `eth1`, ... in the order joined;
- iptables chains (filter and nat): `SQUALL-K`, jumped to from FORWARD / POSTROUTING;
- the supervisor: `python -m squall.runtime.netns.supervisor --project P ...` (its argv);
- service processes: whatever lives in one of the project's namespaces.

Project names are `[a-z0-9_-]` (normalised like Compose), so the `.` in a namespace
name ends the project part unambiguously. Interface names carry only the project's
hash (the kernel allows 15 characters); `down` removes a link only when its name has
the project's prefix *and* its ifalias names the project, so a hash collision between
two projects can never remove the other's links.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

NETNS_DIR = Path("/run/netns")
NETNS_PREFIX = "squall-"
LINK_PREFIX = "sq"
IFNAMSIZ = 15
IFALIAS_MAX = 255
LABEL_MARK = "squall"
SUPERVISOR_MODULE = "squall.runtime.netns.supervisor"
INNER_IF_PREFIX = "eth"

_INDEX_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def project_key(project: str) -> str:
    """Six hex digits that stand for the project in every interface and chain name."""
    return hashlib.sha1(project.encode()).hexdigest()[:6]


def link_prefix(project: str) -> str:
    return f"{LINK_PREFIX}{project_key(project)}"


def _index(number: int) -> str:
    if number < 0:
        raise ValueError("index must be >= 0")
    digits = ""
    while True:
        number, rest = divmod(number, len(_INDEX_DIGITS))
        digits = _INDEX_DIGITS[rest] + digits
        if number == 0:
            return digits


def bridge_name(project: str, number: int) -> str:
    name = f"{link_prefix(project)}n{_index(number)}"
    assert len(name) <= IFNAMSIZ, name
    return name


def veth_name(project: str, number: int) -> str:
    name = f"{link_prefix(project)}v{_index(number)}"
    assert len(name) <= IFNAMSIZ, name
    return name


def link_number(project: str, name: str, kind: str) -> int | None:
    """The index in a bridge (`kind` "n") or veth ("v") name of `project`, else None."""
    prefix = f"{link_prefix(project)}{kind}"
    if not name.startswith(prefix) or len(name) == len(prefix):
        return None
    number = 0
    for char in name[len(prefix) :]:
        if char not in _INDEX_DIGITS:
            return None
        number = number * len(_INDEX_DIGITS) + _INDEX_DIGITS.index(char)
    return number


def inner_name(position: int) -> str:
    """The interface name inside a service's namespace: `eth0` for its first network."""
    return f"{INNER_IF_PREFIX}{position}"


def netns_name(project: str, service: str) -> str:
    return f"{NETNS_PREFIX}{project}.{service}"


def netns_path(project: str, service: str) -> str:
    return str(NETNS_DIR / netns_name(project, service))


def service_of_netns(project: str, name: str) -> str | None:
    """The service whose namespace is called `name`, if it belongs to `project`."""
    prefix = f"{NETNS_PREFIX}{project}."
    if name.startswith(prefix) and len(name) > len(prefix):
        return name[len(prefix) :]
    return None


def chain_name(project: str) -> str:
    return f"SQUALL-{project_key(project)}"


def encode_label(fields: Mapping[str, str]) -> str:
    """An ifalias: `squall k=v k=v`, values percent-quoted (no spaces, no `=`)."""
    parts = [LABEL_MARK, *(f"{k}={quote(v, safe='/.:,_-')}" for k, v in fields.items())]
    text = " ".join(parts)
    if len(text) > IFALIAS_MAX:
        raise ValueError(f"label too long for an ifalias ({len(text)} > {IFALIAS_MAX})")
    return text


def decode_label(text: str | None) -> dict[str, str] | None:
    """Inverse of `encode_label`; None for an alias that is not Squall's."""
    if not text:
        return None
    parts = text.split(" ")
    if parts[0] != LABEL_MARK:
        return None
    fields: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if not sep or not key:
            return None
        fields[key] = unquote(value)
    return fields


_SAFE_FILE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class StatePaths:
    """The netns backend's files in a cluster's state directory (`<state>/netns/`)."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "supervisor.json"

    @property
    def status(self) -> Path:
        return self.root / "supervisor.status.json"

    @property
    def pidfile(self) -> Path:
        return self.root / "supervisor.pid"

    @property
    def supervisor_log(self) -> Path:
        return self.root / "supervisor.log"

    def log(self, service: str) -> Path:
        return self.root / "logs" / f"{_SAFE_FILE.sub('_', service)}.log"

    def hosts(self, service: str) -> Path:
        return self.root / "etc" / _SAFE_FILE.sub("_", service) / "hosts"

    def resolv(self, service: str) -> Path:
        return self.root / "etc" / _SAFE_FILE.sub("_", service) / "resolv.conf"


def state_paths(state_dir: Path) -> StatePaths:
    return StatePaths(state_dir.absolute() / "netns")


__all__ = [
    "NETNS_DIR",
    "SUPERVISOR_MODULE",
    "StatePaths",
    "bridge_name",
    "chain_name",
    "decode_label",
    "encode_label",
    "inner_name",
    "link_number",
    "link_prefix",
    "netns_name",
    "netns_path",
    "project_key",
    "service_of_netns",
    "state_paths",
    "veth_name",
]
