"""Who may call the API: a bearer token kept in the cluster's state directory.

Rules (the README's "HTTP API" section says the same):

- Every change (POST, PUT, PATCH, DELETE) needs `Authorization: Bearer <token>`:
  none gives 401, a wrong one 403. A browser cannot add that header to a cross-site
  form or link, so a page elsewhere cannot make changes (no CSRF).
- Reads (GET) are open when the server listens on loopback only, and need the token
  like changes when it listens anywhere else. A read may also carry the token as
  `?token=`, because a browser's `EventSource` cannot send headers.
- On loopback the `Host` header must name loopback too, so a page whose name was
  rebound to 127.0.0.1 (DNS rebinding) cannot read the API.
- The token belongs to the server, not to a cluster: it is created once, 32 random
  bytes, in `<state root>/api-token` with mode 0600, and reused by the next `squall
  serve` (the dashboard's URL stays valid); `down` never removes it. Binding a
  non-loopback address needs an explicit `--token-file`: whoever starts a reachable
  server chooses where its secret lives.
- `--blockade-compat` (off by default, loopback only): Blockade's clients send no
  token, so changes through the `/blockade` routes need none; every other route
  keeps the rules above, and a token that is sent is still checked.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from squall.errors import StateError, UsageError

TOKEN_FILE: Final = "api-token"
LOOPBACK_NAMES: Final = ("localhost", "127.0.0.1", "::1", "[::1]")
READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
BLOCKADE_PREFIX: Final = "/blockade"
PROTECTED_PREFIXES: Final = ("/api", BLOCKADE_PREFIX)
"""Where reads follow the rules above; other pages (the dashboard, its files) are open."""


def is_loopback(host: str) -> bool:
    """True for `127.0.0.0/8`, `::1` and `localhost`; False for `0.0.0.0` and names."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token_file: Path | None, *, blockade_compat: bool = False) -> None:
    """Refuse a reachable address unless the caller chose the token file, and token-less
    Blockade clients anywhere but loopback.

    Raises:
        UsageError: `host` is not loopback and no `--token-file` was given, or
            `blockade_compat` was asked for on it.
    """
    if is_loopback(host):
        return
    if blockade_compat:
        raise UsageError(
            f"--blockade-compat lets changes in without a token, so it listens on loopback"
            f" only; --host {host} is reachable from other machines"
        )
    if token_file is None:
        raise UsageError(
            f"--host {host} is reachable from other machines; pass --token-file FILE"
            " to choose where the API token lives (or keep --host 127.0.0.1)"
        )


def server_token_file(state_root: Path) -> Path:
    """Where the server's token lives by default: beside the clusters, not in one.

    Raises:
        StateError: the state root cannot be created.
    """
    try:
        state_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StateError(f"cannot create {state_root}: {exc.strerror}") from exc
    return state_root / TOKEN_FILE


def load_or_create_token(path: Path) -> str:
    """The token in `path`, created (mode 0600) if the file does not exist.

    Raises:
        StateError: the file cannot be written or read, is empty, or other users may
            read it (it must be mode 0600 or stricter, as ssh asks of its keys).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_token(path)
    except OSError as exc:
        raise StateError(f"cannot create the API token {path}: {exc.strerror}") from exc
    token = secrets.token_urlsafe(32)
    try:
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)
    return token


def _read_token(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        text = path.read_text().strip()
    except OSError as exc:
        raise StateError(f"cannot read the API token {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StateError(
            f"the API token {path} is readable by other users (mode {stat.S_IMODE(mode):o});"
            f" run chmod 600 {path}"
        )
    if len(text) < 16 or any(c.isspace() for c in text):
        raise StateError(f"the API token {path} must be one word of 16 characters or more")
    return text


@dataclass(frozen=True)
class AuthPolicy:
    """The token and whether reads need it (they do unless the server is loopback-only)."""

    token: str
    reads_need_token: bool
    token_file: Path | None = None
    """Where the token lives, so a 401 can say where to read it."""
    blockade_compat: bool = False
    """Changes through the `/blockade` routes need no token (`--blockade-compat`)."""

    def decide(self, method: str, path: str, presented: str | None) -> int | None:
        """None when a request may go on; else the status to answer (401/403).

        Decided from the method, the path and the token alone, before any body is read.
        """
        if method in READ_METHODS and not any(_under(path, p) for p in PROTECTED_PREFIXES):
            return None  # the dashboard's page and files, the OpenAPI document
        if presented is None:
            if method in READ_METHODS and not self.reads_need_token:
                return None
            if self.blockade_compat and _under(path, BLOCKADE_PREFIX):
                return None
        return self.check(presented)

    def check(self, presented: str | None) -> int | None:
        """None when `presented` is the token; else the HTTP status to answer (401/403)."""
        if not presented:
            return 401
        if not hmac.compare_digest(presented.encode(), self.token.encode()):
            return 403
        return None


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (None when absent)."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


__all__ = [
    "BLOCKADE_PREFIX",
    "LOOPBACK_NAMES",
    "READ_METHODS",
    "TOKEN_FILE",
    "AuthPolicy",
    "bearer",
    "check_bind",
    "is_loopback",
    "load_or_create_token",
    "server_token_file",
]
