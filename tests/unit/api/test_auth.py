"""The token file and the bind rules of `squall serve`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from squall.api import check_bind, is_loopback, load_or_create_token
from squall.api._app import host_name
from squall.api._auth import AuthPolicy, bearer
from squall.errors import StateError, UsageError


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.4", False),
        ("example.com", False),
    ],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_reachable_address_needs_a_token_file(tmp_path: Path) -> None:
    check_bind("127.0.0.1", None)
    with pytest.raises(UsageError, match="--token-file"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", tmp_path / "token")


def test_the_token_is_created_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "api-token"
    token = load_or_create_token(path)
    assert len(token) >= 32
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_or_create_token(path) == token


def test_a_token_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "api-token"
    path.write_text("a-long-enough-token-value\n")
    path.chmod(0o644)
    with pytest.raises(StateError, match="chmod 600"):
        load_or_create_token(path)
    path.chmod(0o600)
    assert load_or_create_token(path) == "a-long-enough-token-value"
    path.write_text("short")
    with pytest.raises(StateError, match="16 characters"):
        load_or_create_token(path)


def test_policy_and_header() -> None:
    policy = AuthPolicy("s3cret-token-value", reads_need_token=False)
    assert policy.check("s3cret-token-value") is None
    assert policy.check(None) == 401
    assert policy.check("other") == 403
    assert bearer("Bearer abc") == "abc"
    assert bearer("bearer  abc ") == "abc"
    assert bearer("Basic abc") is None
    assert bearer(None) is None


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:7007", "127.0.0.1"),
        ("localhost", "localhost"),
        ("[::1]:80", "::1"),
        ("evil.example:80", "evil.example"),
    ],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


def test_blockade_compat_is_for_loopback_and_blockade_routes_only(tmp_path: Path) -> None:
    check_bind("127.0.0.1", None, blockade_compat=True)
    with pytest.raises(UsageError, match="loopback only"):
        check_bind("0.0.0.0", tmp_path / "token", blockade_compat=True)
    policy = AuthPolicy("s3cret-token-value", reads_need_token=False, blockade_compat=True)
    assert policy.decide("POST", "/blockade/demo/partitions", None) is None
    assert policy.decide("DELETE", "/blockade", None) is None
    assert policy.decide("POST", "/api/clusters/demo/up", None) == 401
    assert policy.decide("POST", "/blockade/demo", "wrong") == 403
    strict = AuthPolicy("s3cret-token-value", reads_need_token=False)
    assert strict.decide("POST", "/blockade/demo/partitions", None) == 401
    assert strict.decide("GET", "/blockade/demo", None) is None
