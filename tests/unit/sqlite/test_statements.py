from __future__ import annotations

import pytest

from squall.sqlite._statements import has_content, split_statements


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("select 1", ["select 1"]),
        ("select 1;", ["select 1;"]),
        ("select 1;select 2;", ["select 1;", "select 2;"]),
        ("select 1;; ;\n-- c\n", ["select 1;"]),
        ("select 'a;b'; select 2;", ["select 'a;b';", " select 2;"]),
        ('select "x;y", [a;b], `c;d`; select 2;', ['select "x;y", [a;b], `c;d`;', " select 2;"]),
        ("select 1 -- x;\n; select /* ; */ 2;", ["select 1 -- x;\n;", " select /* ; */ 2;"]),
        ("select 'it''s;'; select 2;", ["select 'it''s;';", " select 2;"]),
        ("select 'open; select 2;", ["select 'open; select 2;"]),
        (
            "create trigger t after insert on x begin select 1; select 2; end; select 3;",
            ["create trigger t after insert on x begin select 1; select 2; end;", " select 3;"],
        ),
        ("", []),
        ("  -- only a comment", []),
    ],
)
def test_split(text: str, expected: list[str]) -> None:
    assert split_statements(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", False),
        (" ;\n -- c\n /* d */ ;", False),
        ("/* open", False),
        ("x", True),
        ("-- a\nb", True),
    ],
)
def test_has_content(text: str, expected: bool) -> None:
    assert has_content(text) is expected


def test_long_inputs_are_linear() -> None:
    assert split_statements("'" + ";" * 1_000_000) == ["'" + ";" * 1_000_000]
    assert not has_content(" " * 1_000_000)
