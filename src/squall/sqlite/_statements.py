"""Cut SQL text into single statements, the way the sqlite3 shell runs its input.

The shell collects lines until `sqlite3.complete_statement` says the text ends with a
complete statement, then runs every statement in it. Python's `sqlite3` runs one
statement per `execute`, so the text has to be cut at the semicolons that end a
statement: those outside quotes and comments, and (inside `CREATE TRIGGER`) only where
SQLite's own completeness check agrees.
"""

from __future__ import annotations

import re
import sqlite3

_CLOSERS = {"'": "'", '"': '"', "`": "`", "[": "]", "--": "\n", "/*": "*/"}
_SPECIAL = re.compile(r"""['"`\[;]|--|/\*""")
_BLANK = re.compile(r"(?:\s+|;|--[^\n]*|/\*.*?(?:\*/|\Z))*", re.DOTALL)


def statement_ends(text: str) -> list[int]:
    """Positions just after each top-level `;` (outside quotes and comments).

    Unterminated quotes or comments swallow the rest of the text, as in SQLite.
    """
    ends: list[int] = []
    n = len(text)
    i = 0
    while True:
        found = _SPECIAL.search(text, i)
        if found is None:
            return ends
        token = found.group()
        i = found.end()
        if token == ";":
            ends.append(i)
            continue
        close = _CLOSERS[token]
        stop = text.find(close, i)
        # A doubled quote ('it''s') is two quoted runs back to back: same result.
        i = n if stop < 0 else stop + len(close)


def split_statements(text: str) -> list[str]:
    """Every statement in `text`, each with its `;`; blank or comment-only ones dropped.

    A trailing part that is not a complete statement is returned as a last element so
    that SQLite reports its error (for example an unterminated string).
    """
    body = text.rstrip().rstrip(";")
    if ";" not in body:  # the usual case: one statement, no need to scan
        return [text] if has_content(text) else []
    statements: list[str] = []
    start = 0
    for end in statement_ends(text):
        piece = text[start:end]
        if not sqlite3.complete_statement(piece):
            continue  # a `;` inside a trigger body: the statement goes on
        if has_content(piece):
            statements.append(piece)
        start = end
    rest = text[start:]
    if has_content(rest):
        statements.append(rest)
    return statements


def has_content(piece: str) -> bool:
    """True when `piece` holds more than whitespace, comments and semicolons."""
    if piece[:1].isalpha():  # the usual statement starts with its keyword
        return True
    return _BLANK.fullmatch(piece) is None
