from __future__ import annotations

from pathlib import Path

import pytest

from squall.errors import SqliteServerError
from squall.sqlite import _wire
from squall.sqlite._commands import SessionSettings, dot_command, render_tables
from squall.sqlite._database import Result
from squall.sqlite.config import parse_duration, read_token
from squall.sqlite.shell import parse_address


def settings() -> SessionSettings:
    return SessionSettings(authenticated=True)


def test_settings_commands() -> None:
    s = settings()
    assert dot_command(".headers on", s, None).error is None and s.output.headers
    assert dot_command(".mode csv", s, None).error is None and s.output.mode == "csv"
    assert dot_command(".mode", s, None).text == "current output mode: csv\n"
    assert dot_command(".mode nope", s, None).error is not None
    assert dot_command(".timeout 250", s, None).busy_timeout == 0.25
    assert dot_command('.prompt ""', s, None).error is None
    assert (s.main_prompt, s.more_prompt) == ("", "")
    assert dot_command(".mode jsonl", s, None).jsonl
    assert dot_command(".quit", s, None).quit
    assert ".tables" in dot_command(".help", s, None).text
    assert "unknown command" in (dot_command(".frobnicate 1", s, None).error or "")


def test_auth() -> None:
    s = SessionSettings(authenticated=False)
    assert dot_command(".tables", s, "tok").error == "authentication required: send .auth TOKEN"
    assert dot_command(".auth bad", s, "tok").error == "authentication failed"
    assert dot_command(".auth tok", s, "tok").error is None and s.authenticated
    s = SessionSettings(authenticated=False)
    replies = [dot_command(".auth bad", s, "tok") for _ in range(3)]
    assert replies[-1].quit and not s.authenticated


def test_tables_layout() -> None:
    names = Result(("name",), [(f"table_{i}",) for i in range(9)], -1, None)
    assert render_tables(names) == (
        "table_0  table_2  table_4  table_6  table_8\ntable_1  table_3  table_5  table_7\n"
    )


@pytest.mark.parametrize(
    ("text", "seconds"), [("5s", 5.0), ("250ms", 0.25), ("1.5m", 90.0), ("2", 2.0), ("1h", 3600.0)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-1s", "5 parsecs", "s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(SqliteServerError):
        parse_duration(text)


def test_read_token(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("  abc \n")
    assert read_token(tmp_path / "t") == "abc"
    (tmp_path / "e").write_text("\n")
    with pytest.raises(SqliteServerError, match="empty"):
        read_token(tmp_path / "e")
    with pytest.raises(SqliteServerError, match="cannot read"):
        read_token(tmp_path / "missing")


def test_wire_round_trip() -> None:
    message = {"rows": [[1, 0.5, "é", b"\x00\xff", None, float("inf")]]}
    line = _wire.encode(message)
    assert line.endswith(b"\n") and line.isascii()
    assert _wire.decode(line) == message


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("db:1234", ("db", 1234)),
        ("db", ("db", 12345)),
        ("[::1]:99", ("::1", 99)),
        (":7", ("127.0.0.1", 7)),
    ],
)
def test_parse_address(text: str, address: tuple[str, int]) -> None:
    assert parse_address(text) == address


def test_parse_address_rejects() -> None:
    with pytest.raises(SqliteServerError):
        parse_address("db:http")
