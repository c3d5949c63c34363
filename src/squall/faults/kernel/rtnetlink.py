"""Reading a namespace in-process over rtnetlink: interfaces, addresses, routes, qdiscs.

The kernel's own messages, read from a NETLINK_ROUTE socket opened inside the
namespace: what `ip -j addr/route/link` and `tc -j qdisc show` print, without a process.
This module knows rtnetlink's messages; `squall.linux.netlink` frames them.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass

from squall.errors import FaultError
from squall.faults.kernel.readback import Qdisc
from squall.faults.plan import IFB_PREFIX, Interface
from squall.linux.commands import COMMAND_TIMEOUT, Log, Runner
from squall.linux.netlink import attr_text, dump, parse_attrs

_RTM_GETLINK = 18
_RTM_GETADDR = 22
_RTM_GETROUTE = 26
_RTM_GETQDISC = 38
_IFLA_IFNAME = 3
_IFLA_LINKINFO = 18
_IFLA_INFO_KIND = 1
_IFA_ADDRESS = 1
_IFA_LOCAL = 2
_RTA_OIF = 4
_RTA_TABLE = 15
_RT_TABLE_MAIN = 254
_TCA_KIND = 1
_IFF_LOOPBACK = 0x8
_TC_H_ROOT = 0xFFFFFFFF
_SO_NETNS_COOKIE = 71
_IFINFO = struct.Struct("=BxHiII")
_IFADDR = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_TCMSG = struct.Struct("=BxxxiIII")


def _tc_classid(value: int) -> str:
    """As tc prints a parent: `root`, `5351:10`, `ffff:fff1`, `5351:`."""
    if value == _TC_H_ROOT:
        return "root"
    major, minor = value >> 16, value & 0xFFFF
    if major == 0:
        return f":{minor:x}"
    return f"{major:x}:" if minor == 0 else f"{major:x}:{minor:x}"


@dataclass(frozen=True)
class Observed:
    """One in-process netlink read of a namespace: all that planning and `apply` need
    from it except iptables (which has no netlink interface Squall can read cheaply)."""

    netns: str
    cookie: int | None
    """The namespace's `SO_NETNS_COOKIE`: unlike an inode number, never reused while
    the machine runs (None where the kernel is older than 5.14)."""
    interfaces: tuple[Interface, ...] = ()
    qdiscs: tuple[Qdisc, ...] = ()
    ifbs: tuple[str, ...] = ()


def observe(netns: str, log: Log | None = None) -> Observed:
    """Interfaces (IPv4, loopback left out), qdiscs, Squall's ifbs and the cookie of `netns`.

    Raises:
        FaultError: the namespace is gone or cannot be entered, or netlink failed.
    """
    ns = Runner(log, netns)
    ns.say(f"# netlink {netns}: links, IPv4 addresses, routes, qdiscs")
    with ns.entered():
        sock = socket.socket(
            socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE
        )
    try:
        with sock:
            sock.settimeout(COMMAND_TIMEOUT)
            sock.bind((0, 0))
            return _observe(netns, sock)
    except OSError as exc:
        raise FaultError(f"reading {netns} over netlink: {exc}", netns=netns) from exc


def _observe(netns: str, sock: socket.socket) -> Observed:
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, _SO_NETNS_COOKIE, 8)
        cookie: int | None = struct.unpack("=Q", raw)[0]
    except OSError:
        cookie = None
    names: dict[int, str] = {}
    loopback: set[int] = set()
    ifbs: list[str] = []
    for msg in dump(sock, _RTM_GETLINK, _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0), 1):
        _family, _type, index, flags, _change = _IFINFO.unpack_from(msg)
        attrs = parse_attrs(msg, _IFINFO.size)
        name = attr_text(attrs.get(_IFLA_IFNAME))
        names[index] = name
        if flags & _IFF_LOOPBACK:
            loopback.add(index)
        info = parse_attrs(attrs.get(_IFLA_LINKINFO, b""))
        if attr_text(info.get(_IFLA_INFO_KIND)) == "ifb" and name.startswith(IFB_PREFIX):
            ifbs.append(name)
    addresses: dict[int, list[str]] = {}
    for msg in dump(sock, _RTM_GETADDR, _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0), 2):
        family, prefixlen, _flags, _scope, index = _IFADDR.unpack_from(msg)
        attrs = parse_attrs(msg, _IFADDR.size)
        local = attrs.get(_IFA_LOCAL) or attrs.get(_IFA_ADDRESS)
        if family == socket.AF_INET and local is not None and len(local) == 4:
            addresses.setdefault(index, []).append(f"{ipaddress.IPv4Address(local)}/{prefixlen}")
    default_devs: set[int] = set()
    for msg in dump(sock, _RTM_GETROUTE, _RTMSG.pack(socket.AF_INET, *(0,) * 8), 3):
        family, dst_len, _src, _tos, table, _proto, _scope, _kind, _flags = _RTMSG.unpack_from(msg)
        attrs = parse_attrs(msg, _RTMSG.size)
        if _RTA_TABLE in attrs:
            (table,) = struct.unpack_from("=I", attrs[_RTA_TABLE])
        main = table == _RT_TABLE_MAIN and _RTA_OIF in attrs
        if family == socket.AF_INET and dst_len == 0 and main:
            default_devs.add(struct.unpack_from("=i", attrs[_RTA_OIF])[0])
    qdiscs: list[Qdisc] = []
    for msg in dump(sock, _RTM_GETQDISC, _TCMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0), 4):
        _family, index, handle, parent, _info = _TCMSG.unpack_from(msg)
        kind = attr_text(parse_attrs(msg, _TCMSG.size).get(_TCA_KIND))
        qdiscs.append(
            Qdisc(
                dev=names.get(index, ""),
                kind=kind,
                handle=f"{handle >> 16:x}:",
                parent="ingress" if kind == "ingress" else _tc_classid(parent) if parent else "",
            )
        )
    interfaces = tuple(
        Interface(name, tuple(addresses[index]), default_route=index in default_devs)
        for index, name in names.items()
        if name and index not in loopback and addresses.get(index)
    )
    return Observed(netns, cookie, interfaces, tuple(qdiscs), tuple(ifbs))


def list_interfaces(netns: str, log: Log | None = None) -> list[Interface]:
    """The namespace's interfaces with IPv4 addresses (loopback left out), over netlink.

    Faults are planned per interface, so nothing assumes `eth0` or one network.
    """
    return list(observe(netns, log).interfaces)
