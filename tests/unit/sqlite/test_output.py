from __future__ import annotations

import pytest

from squall.sqlite._output import OutputSettings, cell_text, real_text, render

COLUMNS = ("a", "name")
ROWS = [(1, "x|y"), (None, ""), (2.5, b"A\x00B"), (1e300, "l\nm"), (100.0, "é")]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        (7, "7"),
        (100.0, "100.0"),
        (1e300, "1.0e+300"),
        (1e-7, "1.0e-07"),
        (1 / 3, "0.333333333333333"),
        (float("inf"), "Inf"),
        (-0.0, "0.0"),
        ("a\x00b", "a"),
        (b"\x00ab", ""),
        (b"A\xff", "A\udcff"),
    ],
)
def test_cell_text_is_what_sqlite3_column_text_gives(value: object, text: str | None) -> None:
    assert cell_text(value) == text


def test_real_text_uses_sqlite() -> None:
    assert real_text(2.5e15) == "2.5e+15"


def test_list_mode() -> None:
    assert render(OutputSettings(), COLUMNS, ROWS) == ("1|x|y\n|\n2.5|A\n1.0e+300|l\nm\n100.0|é\n")
    assert render(OutputSettings(headers=True), COLUMNS, ROWS[:1]) == "a|name\n1|x|y\n"
    assert render(OutputSettings(headers=True), COLUMNS, []) == ""


def test_csv_quote_json_line_column() -> None:
    assert render(OutputSettings("csv"), COLUMNS, ROWS) == (
        '1,x|y\r\n,""\r\n2.5,A\r\n1.0e+300,"l\nm"\r\n100.0,"é"\r\n'
    )
    assert render(OutputSettings("quote"), COLUMNS, ROWS[:3]) == (
        "1,'x|y'\nNULL,''\n2.5,X'410042'\n"
    )
    assert render(OutputSettings("json"), COLUMNS, ROWS[:2]) == (
        '[{"a":1,"name":"x|y"},\n{"a":null,"name":""}]\n'
    )
    assert render(OutputSettings("line"), COLUMNS, ROWS[:2]) == (
        "    a = 1\n name = x|y\n\n    a = \n name = \n"
    )
    column = OutputSettings()
    column.set_mode("column")
    assert render(column, COLUMNS, ROWS[:2]) == "a  name\n-  ----\n1  x|y \n" + " " * 7 + "\n"
