"""The shell's dot-commands, as a session on the server understands them."""

from __future__ import annotations

import hmac
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from squall.sqlite._database import Result
from squall.sqlite._output import MODES, OutputSettings

MAIN_PROMPT = "sqlite> "
MORE_PROMPT = "   ...> "
MAX_AUTH_FAILURES = 3

HELP = """\
.auth TOKEN              Authenticate (servers started with --token-file)
.headers on|off          Turn display of headers on or off
.help                    Show this message
.mode MODE               Set output mode: list csv json line quote column,
                           or jsonl: switch this session to JSON lines (programs)
.prompt MAIN [CONTINUE]  Replace the prompts ("" turns them off)
.quit                    Close this session (.exit too)
.schema [PATTERN]        Show the CREATE statements matching PATTERN
.tables [PATTERN]        List names of tables and views matching a LIKE pattern
.timeout MS              Wait up to MS milliseconds for another session's transaction
"""

# The session's temp objects are listed too, named `temp.NAME`, as the shell does.
_TABLES_SQL = (
    "SELECT name FROM main.sqlite_schema WHERE type IN ('table','view') "
    "AND name NOT LIKE 'sqlite_%' AND name LIKE ?1 UNION ALL "
    "SELECT 'temp.' || name FROM temp.sqlite_schema WHERE type IN ('table','view') "
    "AND name NOT LIKE 'sqlite_%' AND name LIKE ?1 ORDER BY 1"
)
# An identifier as the shell writes it in a view's column comment: bare when it can be.
_IDENT = (
    "CASE WHEN {0} GLOB '[A-Za-z_]*' AND {0} NOT GLOB '*[^A-Za-z0-9_]*' THEN {0}"
    " ELSE '\"' || replace({0}, '\"', '\"\"') || '\"' END"
)
# A temp object's CREATE statement names its schema: CREATE TABLE temp.tt(a).
_KINDS = ("TABLE", "INDEX", "UNIQUE INDEX", "VIEW", "TRIGGER", "VIRTUAL TABLE")
_WITH_SCHEMA = (
    "CASE WHEN s.db = 'main' THEN s.sql "
    + " ".join(
        f"WHEN substr(s.sql, 1, {len(kind) + 8}) = 'CREATE {kind} ' "
        f"THEN 'CREATE {kind} temp.' || substr(s.sql, {len(kind) + 9})"
        for kind in _KINDS
    )
    + " ELSE s.sql END"
)
# A view is followed by the shell's comment naming its columns: /* v(a,b) */.
_SCHEMA_SQL = (
    "SELECT " + _WITH_SCHEMA + " || CASE WHEN type = 'view' THEN char(10) || '/* ' || "
    "CASE WHEN s.db = 'main' THEN '' ELSE 'temp.' END || "
    + _IDENT.format("s.name")
    + " || '(' || (SELECT group_concat("
    + _IDENT.format("c.name")
    + ", ',') FROM pragma_table_info(s.name, s.db) AS c) || ') */' ELSE '' END "
    "FROM (SELECT 'main' AS db, 0 AS n, rowid AS r, * FROM main.sqlite_schema UNION ALL "
    "SELECT 'temp', 1, rowid, * FROM temp.sqlite_schema) AS s "
    "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' AND (?1 IS NULL "
    "OR lower(tbl_name) LIKE lower(?1) OR lower(s.db || '.' || tbl_name) LIKE lower(?1)) "
    "ORDER BY n, r"
)


@dataclass
class SessionSettings:
    """What a session's dot-commands change (`.timeout` changes its connection's)."""

    authenticated: bool
    output: OutputSettings = field(default_factory=OutputSettings)
    main_prompt: str = MAIN_PROMPT
    more_prompt: str = MORE_PROMPT
    auth_failures: int = 0


@dataclass(frozen=True)
class Query:
    """A dot-command that needs the database: its SQL and how to print the answer."""

    sql: str
    params: tuple[object, ...]
    render: Callable[[Result], str]


@dataclass(frozen=True)
class Reply:
    """What a dot-command did, for the session to carry out."""

    text: str = ""
    error: str | None = None
    query: Query | None = None
    quit: bool = False
    jsonl: bool = False
    busy_timeout: float | None = None


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


_FLAGS = {"on": True, "yes": True, "1": True, "true": True}
_FLAGS |= {"off": False, "no": False, "0": False, "false": False}


def _flag(word: str) -> bool | None:
    return _FLAGS.get(word.lower())


def render_tables(result: Result) -> str:
    """Names in columns across an 80-character line, as the shell lays them out."""
    names = [str(row[0]) for row in result.rows]
    if not names:
        return ""
    width = max(len(n) for n in names)
    per_line = max(1, 80 // (width + 2))
    lines_count = (len(names) + per_line - 1) // per_line
    lines = []
    for i in range(lines_count):
        cells = [names[j].ljust(width) for j in range(i, len(names), lines_count)]
        lines.append("  ".join(cells) + "\n")
    return "".join(lines)


def render_schema(result: Result) -> str:
    """Each CREATE statement followed by `;`."""
    return "".join(f"{row[0]};\n" for row in result.rows)


def dot_command(line: str, settings: SessionSettings, token: str | None) -> Reply:
    """Carry out one dot-command line (it starts with `.`)."""
    words = _words(line[1:])
    if not words:
        return Reply()
    name, args = words[0].lower(), words[1:]
    if name == "auth":
        return _auth(args, settings, token)
    if name in ("quit", "exit"):
        return Reply(quit=True)
    if name == "help":
        return Reply(text=HELP)
    if name == "mode" and args and args[0].lower() == "jsonl":
        return Reply(jsonl=True)
    if not settings.authenticated:
        return Reply(error="authentication required: send .auth TOKEN")
    handler = _HANDLERS.get(name)
    if handler is None:
        return _unknown(line)
    return handler(args, settings) or _unknown(line)


def _unknown(line: str) -> Reply:
    name = line[1:].split()[0]
    return Reply(error=f'unknown command or invalid arguments:  "{name}". Enter ".help" for help')


def _auth(args: list[str], settings: SessionSettings, token: str | None) -> Reply:
    if token is None:
        settings.authenticated = True
        return Reply()
    if len(args) == 1 and hmac.compare_digest(args[0].encode(), token.encode()):
        settings.authenticated = True
        return Reply()
    settings.auth_failures += 1
    if settings.auth_failures >= MAX_AUTH_FAILURES:
        return Reply(error="authentication failed; closing", quit=True)
    return Reply(error="authentication failed")


def _headers(args: list[str], settings: SessionSettings) -> Reply | None:
    value = _flag(args[0]) if len(args) == 1 else None
    if value is None:
        return None
    settings.output.set_headers(value)
    return Reply()


def _mode(args: list[str], settings: SessionSettings) -> Reply | None:
    if not args:
        return Reply(text=f"current output mode: {settings.output.mode}\n")
    mode = args[0].lower()
    if len(args) > 1 or mode not in MODES:
        return Reply(error=f"mode should be one of: {' '.join(MODES)} jsonl")
    settings.output.set_mode(mode)
    return Reply()


def _tables(args: list[str], settings: SessionSettings) -> Reply | None:
    if len(args) > 1:
        return None
    return Reply(query=Query(_TABLES_SQL, (args[0] if args else "%",), render_tables))


def _schema(args: list[str], settings: SessionSettings) -> Reply | None:
    if len(args) > 1:
        return None
    return Reply(query=Query(_SCHEMA_SQL, (args[0] if args else None,), render_schema))


def _timeout(args: list[str], settings: SessionSettings) -> Reply | None:
    if len(args) != 1 or not args[0].isdigit():
        return None
    return Reply(busy_timeout=int(args[0]) / 1000)


def _prompt(args: list[str], settings: SessionSettings) -> Reply | None:
    if not 1 <= len(args) <= 2:
        return None
    settings.main_prompt = args[0]
    if len(args) == 2:
        settings.more_prompt = args[1]
    elif not args[0]:
        settings.more_prompt = ""
    return Reply()


_HANDLERS: dict[str, Callable[[list[str], SessionSettings], Reply | None]] = {
    "headers": _headers,
    "mode": _mode,
    "tables": _tables,
    "schema": _schema,
    "timeout": _timeout,
    "prompt": _prompt,
}
