"""Start a process inside a service: its network namespace, a mount namespace of its
own with the service's /etc/hosts and /etc/resolv.conf bound over the host's, its
hostname (UTS namespace), its user, directory and environment.

Used by the supervisor (services and their healthchecks) and by `exec`, so all three
see exactly the same world. Python 3.11 has no `os.setns`/`os.unshare`: libc through
ctypes, called in the child between fork and exec (the supervisor has no threads).

A new mount namespace copies every mount of the one it leaves, and each namespace in
/run/netns is a mount: at 1000 services a child took 10 ms to unshare from the host's.
The supervisor therefore makes one `mount_template` without those namespace files
and its children unshare from that (a few dozen mounts), having entered their
network namespace first, while /run/netns is still in view.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import grp
import os
import pwd
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from squall.errors import BackendError
from squall.linux.netns import CLONE_NEWNET, setns

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.unshare.argtypes = (ctypes.c_int,)
_libc.mount.argtypes = (
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_void_p,
)
_libc.sethostname.argtypes = (ctypes.c_char_p, ctypes.c_size_t)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one process of a service."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str = "/"
    netns: str | None = None
    """Path of the network namespace to enter; None: the host's (network_mode: host)."""
    hosts: str | None = None
    resolv: str | None = None
    hostname: str | None = None
    user: str | None = None
    """Compose's `user:`: `name`, `uid`, `name:group` or `uid:gid`."""

    def to_json(self) -> dict[str, Any]:
        return {
            "argv": list(self.argv),
            "env": dict(self.env),
            "cwd": self.cwd,
            "netns": self.netns,
            "hosts": self.hosts,
            "resolv": self.resolv,
            "hostname": self.hostname,
            "user": self.user,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Launch:
        return cls(
            argv=tuple(str(a) for a in data["argv"]),
            env={str(k): str(v) for k, v in dict(data.get("env") or {}).items()},
            cwd=str(data.get("cwd") or "/"),
            netns=data.get("netns"),
            hosts=data.get("hosts"),
            resolv=data.get("resolv"),
            hostname=data.get("hostname"),
            user=data.get("user"),
        )

    def with_argv(self, argv: Sequence[str]) -> Launch:
        return Launch(
            tuple(argv),
            self.env,
            self.cwd,
            self.netns,
            self.hosts,
            self.resolv,
            self.hostname,
            self.user,
        )


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str | None


def resolve_user(user: str | None) -> Identity | None:
    """Compose's `user:` on this host's passwd and group files.

    Raises:
        BackendError: an unknown user or group name.
    """
    if not user:
        return None
    name, _, group = user.partition(":")
    home: str | None = None
    try:
        if name.isdigit():
            uid = int(name)
            try:
                entry = pwd.getpwuid(uid)
                gid, home = entry.pw_gid, entry.pw_dir
            except KeyError:
                gid = uid
        else:
            entry = pwd.getpwnam(name)
            uid, gid, home = entry.pw_uid, entry.pw_gid, entry.pw_dir
        if group:
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError as exc:
        raise BackendError(f"user {user!r} is not known on this host") from exc
    groups: tuple[int, ...] = (gid,)
    if not name.isdigit():
        groups = tuple(sorted({gid, *os.getgrouplist(name, gid)}))
    return Identity(uid, gid, groups, home)


def namespace_mounts(mountinfo: str) -> list[bytes]:
    """Mount points of namespace files (`nsfs`) in a /proc/PID/mountinfo, deepest first."""
    found: list[bytes] = []
    for line in mountinfo.splitlines():
        fields, _, rest = line.partition(" - ")
        parts = fields.split()
        if len(parts) >= 5 and rest.split(" ", 1)[0] == "nsfs":
            # mountinfo escapes space, tab, newline and backslash as octal (\040)
            found.append(parts[4].encode().decode("unicode_escape").encode("latin-1"))
    return sorted(found, key=len, reverse=True)


def mount_template() -> int:
    """An open mount namespace like this one without its namespace files: the one
    services unshare from (see the module's docstring). The caller closes the fd.

    Raises:
        OSError: the namespace could not be made (no CAP_SYS_ADMIN).
    """
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only makes syscalls, then exits
        code = 1
        try:
            os.close(ready_r)
            os.close(done_w)
            _check(_libc.unshare(CLONE_NEWNS), "unshare")
            _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "private")
            with open("/proc/self/mountinfo") as info:
                for target in namespace_mounts(info.read()):
                    _libc.umount2(target, MNT_DETACH)
            os.write(ready_w, b"1")
            os.read(done_r, 1)  # keep the namespace until the parent holds it
            code = 0
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(done_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise OSError("the mount namespace template could not be made")
        return os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)


def enter(
    launch: Launch, identity: Identity | None, template: int | None = None
) -> Callable[[], None]:
    """The child-side setup (for `preexec_fn`): namespaces, mounts, hostname, user;
    the mount namespace is made from `template` when given (`mount_template`).

    A failure is written to the child's stderr (the service's log) before the child
    gives up, so the log says why a service never ran.
    """
    netns = launch.netns.encode() if launch.netns else None
    binds = [
        (source.encode(), target)
        for source, target in ((launch.hosts, b"/etc/hosts"), (launch.resolv, b"/etc/resolv.conf"))
        if source
    ]
    hostname = launch.hostname.encode() if launch.hostname else None

    def setup() -> None:
        try:
            if netns is not None:
                fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    setns(fd, CLONE_NEWNET)
                finally:
                    os.close(fd)
            if template is not None:
                setns(template, CLONE_NEWNS)
                os.chdir(launch.cwd)  # entering a mount namespace moved us to its root
            _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWUTS), "unshare")
            _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount private")
            for source, target in binds:
                if os.path.exists(target):
                    _check(_libc.mount(source, target, None, MS_BIND, None), f"bind {target!r}")
            if hostname is not None:
                _check(_libc.sethostname(hostname, len(hostname)), "sethostname")
            if identity is not None:
                os.setgroups(list(identity.groups))
                os.setgid(identity.gid)
                os.setuid(identity.uid)
        except OSError as exc:
            os.write(2, f"squall: cannot enter the service: {exc}\n".encode())
            raise

    return setup


def spawn(
    launch: Launch,
    *,
    stdin: int | IO[Any] | None = subprocess.DEVNULL,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
    new_session: bool = True,
    template: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start `launch` (its own session and process group unless `new_session` is False),
    its mount namespace made from `template` (`mount_template`) when given.

    Raises:
        BackendError: the user is unknown, the program or directory is missing, or the
            namespaces could not be entered.
    """
    identity = resolve_user(launch.user)
    env = dict(launch.env)
    if identity is not None and identity.home and "HOME" not in launch.env:
        env["HOME"] = identity.home
    try:
        return subprocess.Popen(
            list(launch.argv),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=launch.cwd,
            env=env,
            start_new_session=new_session,
            close_fds=True,
            preexec_fn=enter(launch, identity, template),  # the supervisor has no threads
        )
    except subprocess.SubprocessError as exc:
        raise BackendError(f"cannot enter the namespaces of {launch.netns}: {exc}") from exc
    except OSError as exc:
        raise BackendError(f"cannot run {launch.argv[0]!r}: {exc.strerror}") from exc


__all__ = [
    "Identity",
    "Launch",
    "enter",
    "mount_template",
    "namespace_mounts",
    "resolve_user",
    "spawn",
]
