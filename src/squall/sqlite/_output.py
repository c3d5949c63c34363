"""Render result rows the way the sqlite3 shell (3.40) prints them.

`list` mode is the shell's default and is reproduced byte for byte: `|` between
columns, NULL as nothing, a REAL as SQLite's own text for it, TEXT and BLOB cut at
their first NUL byte. `csv`, `quote`, `json` and `line` follow the shell's rules;
`column` pads each column to its widest cell or name (cells that hold line breaks or
tabs are printed as they are, where the shell would wrap or expand them).

Output is a `str`; bytes that are not UTF-8 travel as surrogates
(`surrogateescape`), so encoding it that way gives back the stored bytes.
"""

from __future__ import annotations

import functools
import math
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

Row = Sequence[object]  # each value int, float, str, bytes or None

MODES = ("list", "csv", "json", "line", "quote", "column")

# The shell quotes a CSV field holding a control byte, a space, a quote or any byte
# from 0x7f up (so every non-ASCII character), or the separator.
_CSV_PLAIN = frozenset(chr(c) for c in range(0x21, 0x7F)) - {'"', "'", ","}
_INT64_LIMIT = 2.0**63
_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}

# Floats are turned into text by SQLite itself, so the digits are exactly the shell's.
_FLOAT_TEXT = sqlite3.connect(":memory:", check_same_thread=False)


@dataclass
class OutputSettings:
    """One session's `.mode` and `.headers`."""

    mode: str = "list"
    headers: bool = False
    headers_set: bool = False  # by `.headers`: then `.mode column` leaves them alone

    def set_headers(self, on: bool) -> None:
        self.headers = on
        self.headers_set = True

    def set_mode(self, mode: str) -> None:
        """Switch mode; like the shell, `column` turns headers on unless `.headers` set them."""
        self.mode = mode
        if mode == "column" and not self.headers_set:
            self.headers = True


@functools.lru_cache(maxsize=4096)
def real_text(value: float) -> str:
    """SQLite's text for a REAL (`%!.15g`): `1.0e+300`, `100.0`, `Inf`."""
    text: str = _FLOAT_TEXT.execute("SELECT CAST(? AS TEXT)", (value,)).fetchone()[0]
    return text


@functools.lru_cache(maxsize=4096)
def _real_literal(value: float) -> str:
    """The shell's REAL in quote and json modes: round-trip digits, `1e999` for Inf."""
    if math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    if value.is_integer() and abs(value) < _INT64_LIMIT:
        return f"{int(value)}.0"
    text: str = _FLOAT_TEXT.execute("SELECT printf('%!.20g', ?)", (value,)).fetchone()[0]
    return text


def cell_text(value: object) -> str | None:
    """What `sqlite3_column_text` gives the shell: None for NULL, C-string cut at NUL."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.split("\0", 1)[0] if "\0" in value else value
    if isinstance(value, float):
        return real_text(value)
    if isinstance(value, bytes):
        return value.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    return str(value)


def render(settings: OutputSettings, columns: Sequence[str], rows: Sequence[Row]) -> str:
    """Text for one statement's result; nothing at all when there are no rows."""
    if not rows:
        return ""
    return _RENDERERS[settings.mode](columns, rows, settings.headers)


def _delimited(
    columns: Sequence[str],
    rows: Sequence[Row],
    headers: bool,
    *,
    name: Callable[[str], str],
    value: Callable[[object], str],
    sep: str,
    eol: str = "\n",
) -> str:
    """The list, csv and quote modes: a line per row, values joined by `sep`."""
    lines = [sep.join([name(c) for c in columns])] if headers else []
    lines.extend([sep.join([value(v) for v in row]) for row in rows])
    lines.append("")
    return eol.join(lines)


def _csv_field(text: str | None) -> str:
    if text is None:
        return ""
    if text == "" or not _CSV_PLAIN.issuperset(text):
        return '"' + text.replace('"', '""') + '"'
    return text


@dataclass(frozen=True)
class _Spelling:
    """How a mode writes each kind of value as a literal (quote and json modes)."""

    null: str
    text: Callable[[str], str]
    blob: Callable[[bytes], str]
    real: Callable[[float], str]


def _literal(value: object, spelling: _Spelling) -> str:
    if value is None:
        return spelling.null
    if isinstance(value, str):
        return spelling.text(value)
    if isinstance(value, bytes):
        return spelling.blob(value)
    if isinstance(value, float):
        return spelling.real(value)
    return str(value)


def _quoted_string(text: str) -> str:
    text = text.split("\0", 1)[0]
    return "'" + text.replace("'", "''") + "'"


def _quote_real(value: float) -> str:
    if math.isinf(value):  # quote mode's own spelling; json mode writes 1e999
        return "Inf" if value > 0 else "-Inf"
    return _real_literal(value)


def _json_string(text: str) -> str:
    out = ['"']
    for char in text:
        escaped = _JSON_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char < " ":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


_QUOTE = _Spelling("NULL", _quoted_string, lambda b: "X'" + b.hex() + "'", _quote_real)
_JSON = _Spelling(
    "null",
    _json_string,
    lambda b: _json_string(b.decode("utf-8", "surrogateescape")),
    _real_literal,
)


def _render_json(columns: Sequence[str], rows: Sequence[Row], headers: bool) -> str:
    keys = [_json_string(c) + ":" for c in columns]
    records = [
        "{" + ",".join(key + _literal(v, _JSON) for key, v in zip(keys, row, strict=True)) + "}"
        for row in rows
    ]
    return "[" + ",\n".join(records) + "]\n"


def _render_line(columns: Sequence[str], rows: Sequence[Row], headers: bool) -> str:
    # The shell pads names to at least 5 bytes and counts bytes, not characters.
    width = max([5, *(len(c.encode("utf-8", "surrogateescape")) for c in columns)])
    pads = [" " * (width - len(c.encode("utf-8", "surrogateescape"))) + c for c in columns]
    records = []
    for row in rows:
        fields = [f"{pad} = {cell_text(v) or ''}\n" for pad, v in zip(pads, row, strict=True)]
        records.append("".join(fields))
    return "\n".join(records)


def _render_column(columns: Sequence[str], rows: Sequence[Row], headers: bool) -> str:
    cells = [[cell_text(v) or "" for v in row] for row in rows]
    # The names size the columns even when they are not shown, as in the shell.
    widths = [max(len(line[i]) for line in [columns, *cells]) for i in range(len(columns))]
    table = [list(columns), *cells] if headers else cells
    if headers:
        table.insert(1, ["-" * w for w in widths])
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in table
    ]
    lines.append("")
    return "\n".join(lines)


_Renderer = Callable[[Sequence[str], Sequence[Row], bool], str]
_RENDERERS: dict[str, _Renderer] = {
    "list": partial(_delimited, name=str, value=lambda v: cell_text(v) or "", sep="|"),
    "csv": partial(
        _delimited,
        name=_csv_field,
        value=lambda v: _csv_field(cell_text(v)),
        sep=",",
        eol="\r\n",
    ),
    "json": _render_json,
    "line": _render_line,
    "quote": partial(
        _delimited, name=_quoted_string, value=partial(_literal, spelling=_QUOTE), sep=","
    ),
    "column": _render_column,
}
