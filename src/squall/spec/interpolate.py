"""Compose variable interpolation: `$VAR`, `${VAR}`, `${VAR:-default}` and friends.

Written as a small scanner rather than one regular expression because defaults may
themselves hold `${...}` (`${A:-${B}}`), which needs brace counting. The rules follow
Compose: `$$` is a literal `$`; a `$` followed by anything else that is not a name is
an error; `:-`, `:?`, `:+` treat an empty value as unset, `-`, `?`, `+` do not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from squall.errors import Location, SpecError
from squall.spec.node import Node

_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_REST = _NAME_START | frozenset("0123456789")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


@dataclass
class Substitution:
    """The result of one `substitute()` call."""

    text: str
    missing: list[str] = field(default_factory=list)
    """Variables used without a default while unset; Compose warns about each."""


def substitute(
    text: str, variables: Mapping[str, str], *, location: Location, field_path: str
) -> Substitution:
    """Replace every variable reference in `text`.

    Raises:
        SpecError: a malformed reference, or `${VAR:?message}` with VAR unset.
    """
    return _Scanner(text, variables, location, field_path).run()


class _Scanner:
    def __init__(
        self, text: str, variables: Mapping[str, str], location: Location, field_path: str
    ) -> None:
        self.text = text
        self.variables = variables
        self.location = location
        self.field_path = field_path
        self.missing: list[str] = []

    def run(self) -> Substitution:
        return Substitution(self.expand(self.text), self.missing)

    def fail(self, message: str) -> SpecError:
        return SpecError(message, self.location, field=self.field_path or None)

    def invalid(self, text: str) -> SpecError:
        return self.fail(f"invalid interpolation in {text!r}; write '$$' for a literal '$'")

    def expand(self, text: str) -> str:
        out: list[str] = []
        i = 0
        while i < len(text):
            dollar = text.find("$", i)
            if dollar < 0:
                out.append(text[i:])
                break
            out.append(text[i:dollar])
            nxt = text[dollar + 1] if dollar + 1 < len(text) else ""
            if nxt == "$":
                out.append("$")
                i = dollar + 2
            elif nxt == "{":
                end = self.closing_brace(text, dollar + 2)
                out.append(self.braced(text[dollar + 2 : end], text))
                i = end + 1
            elif nxt in _NAME_START:
                end = dollar + 1
                while end < len(text) and text[end] in _NAME_REST:
                    end += 1
                out.append(self.lookup(text[dollar + 1 : end]))
                i = end
            else:
                raise self.invalid(text)
        return "".join(out)

    def closing_brace(self, text: str, start: int) -> int:
        depth = 1
        i = start
        while i < len(text):
            if text.startswith("${", i):
                depth += 1
                i += 2
                continue
            if text[i] == "}":
                depth -= 1
                if depth == 0:
                    return i
            i += 1
        raise self.invalid(text)

    def braced(self, inner: str, whole: str) -> str:
        end = 0
        if inner[:1] and inner[0] in _NAME_START:
            end = 1
            while end < len(inner) and inner[end] in _NAME_REST:
                end += 1
        if end == 0:
            raise self.invalid(whole)
        name, rest = inner[:end], inner[end:]
        if not rest:
            return self.lookup(name)
        operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
        if operator is None:
            raise self.invalid(whole)
        argument = rest[len(operator) :]
        value = self.variables.get(name)
        if value is None or (operator.startswith(":") and value == ""):
            if operator.endswith("-"):
                return self.expand(argument)
            if operator.endswith("+"):
                return ""
            detail = self.expand(argument)
            message = f"required variable {name} is missing a value"
            raise self.fail(f"{message}: {detail}" if detail else message)
        return self.expand(argument) if operator.endswith("+") else value

    def lookup(self, name: str) -> str:
        value = self.variables.get(name)
        if value is None:
            if name not in self.missing:
                self.missing.append(name)
            return ""
        return value


def interpolate_tree(root: Node, variables: Mapping[str, str], warnings: list[str]) -> Node:
    """`root` with variables substituted in every string value (not in keys).

    Each variable used while unset earns one warning, at its first use.
    """
    warned: set[str] = set()

    def change(node: Node) -> str:
        assert isinstance(node.value, str)
        if "$" not in node.value:
            return node.value
        result = substitute(node.value, variables, location=node.location, field_path=node.field)
        for name in result.missing:
            if name not in warned:
                warned.add(name)
                warnings.append(node.warning(f"variable {name} is not set; using an empty string"))
        return result.text

    return root.with_strings(change)
