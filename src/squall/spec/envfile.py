"""Parse `.env` and `env_file:` files the way Compose reads them.

`KEY=VALUE` lines, `#` comments, an optional `export ` prefix, single quotes (literal)
and double quotes (with backslash escapes), both allowed to span lines. A bare `KEY`
takes its value from the environment and is left out when the environment lacks it.
Unquoted and double-quoted values are interpolated as Compose's dotenv does: `${VAR}`
looks in the environment first, then at the keys written earlier in the same file.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping, Sequence
from pathlib import Path

from squall.errors import Location, SpecError
from squall.spec.interpolate import substitute

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$$"}
_BLANK = " \t"


def read_env_files(
    paths: Sequence[Path], environ: Mapping[str, str], *, required: bool
) -> dict[str, str]:
    """The variables of env files read in order (a later file wins a key).

    Raises:
        SpecError: a file cannot be read (missing counts only when `required`), or a
            line is wrong.
    """
    result: dict[str, str] = {}
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            if required:
                raise SpecError("env file not found", Location(path)) from exc
            continue
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"cannot read the env file: {exc}", Location(path)) from exc
        result.update(parse_env(text, path, {**result, **environ}))
    return result


def parse_env(text: str, source: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of an env file's `text`, in file order.

    Raises:
        SpecError: a line is neither a comment nor `KEY=VALUE` (points at that line).
    """
    return _EnvParser(text, source, environ).parse()


class _EnvParser:
    def __init__(self, text: str, source: Path, environ: Mapping[str, str]) -> None:
        self.text = text.replace("\r\n", "\n")
        self.source = source
        self.environ = environ
        self.pos = 0
        self.line = 1

    def fail(self, message: str) -> SpecError:
        return SpecError(message, Location(self.source, self.line))

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def advance(self) -> str:
        char = self.text[self.pos]
        self.pos += 1
        if char == "\n":
            self.line += 1
        return char

    def skip_blank(self) -> None:
        while self.peek() and self.peek() in _BLANK:
            self.advance()

    def skip_line(self) -> None:
        while self.peek() and self.peek() != "\n":
            self.advance()

    def parse(self) -> dict[str, str]:
        result: dict[str, str] = {}
        while self.pos < len(self.text):
            self.skip_blank()
            char = self.peek()
            if char == "\n":
                self.advance()
                continue
            if char == "#":
                self.skip_line()
                continue
            line = self.line
            key, value, literal = self.entry()
            if value is not None and not literal and "$" in value:
                value = self.interpolate(value, line, result)
            if value is not None:
                result[key] = value
        return result

    def interpolate(self, value: str, line: int, earlier: dict[str, str]) -> str:
        variables = ChainMap(dict(self.environ), earlier)
        return substitute(
            value, variables, location=Location(self.source, line), field_path=""
        ).text

    def entry(self) -> tuple[str, str | None, bool]:
        """(key, value or None for a bare unset KEY, whether the value is literal)."""
        key = self.word()
        if key == "export" and self.peek() in _BLANK:
            self.skip_blank()
            key = self.word()
        if not key:
            raise self.fail(f"expected KEY=VALUE, got {self.rest_of_line()!r}")
        self.skip_blank()
        if self.peek() != "=":
            if self.peek() in ("", "\n", "#"):
                self.skip_line()
                return key, self.environ.get(key), True
            raise self.fail(f"expected '=' after {key!r}, got {self.rest_of_line()!r}")
        self.advance()
        self.skip_blank()
        quote = self.peek()
        if quote in ("'", '"'):
            value = self.quoted(quote)
            self.skip_blank()
            if self.peek() not in ("", "\n", "#"):
                raise self.fail(f"unexpected text after the quoted value of {key!r}")
            self.skip_line()
            return key, value, quote == "'"
        raw = self.rest_of_line()
        self.skip_line()
        return key, _strip_comment(raw).strip(), False

    def word(self) -> str:
        start = self.pos
        while self.peek() and self.peek() not in " \t\n=#":
            self.advance()
        return self.text[start : self.pos]

    def rest_of_line(self) -> str:
        end = self.text.find("\n", self.pos)
        return self.text[self.pos : end if end >= 0 else len(self.text)]

    def quoted(self, quote: str) -> str:
        start_line = self.line
        self.advance()
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.advance()
            if char == quote:
                return "".join(out)
            if char == "\\" and quote == '"' and self.peek() in _ESCAPES:
                out.append(_ESCAPES[self.advance()])
            else:
                out.append(char)
        self.line = start_line
        raise self.fail(f"unterminated {quote} quote")


def _strip_comment(raw: str) -> str:
    """Cut an inline comment: a `#` that follows whitespace starts one."""
    for index, char in enumerate(raw):
        if char == "#" and index > 0 and raw[index - 1] in _BLANK:
            return raw[:index]
    return raw
