"""The package's layers as docs/architecture.md draws them: no cycles, no upward imports.

Imports inside functions count too: a late import that dodges a cycle is still one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import squall

ROOT = Path(squall.__file__).parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports() -> dict[str, set[str]]:
    """Each module's imports of other squall modules (`from pkg import mod` -> pkg.mod)."""
    modules = _modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    kept = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*kept, base] if base else kept)
                names = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                ]
            for name in names:
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name and name != module:
                    edges[module].add(name)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles() -> None:
    assert _cycles(_imports()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _reaches(edges: dict[str, set[str]], module: str, prefix: str) -> list[str]:
    return sorted(m for m in edges[module] if m == prefix or m.startswith(prefix + "."))


FRONT_ENDS = ("squall.cli", "squall.api", "squall.cluster", "squall.pytest_plugin")
"""Adapters: they parse input into requests of `squall.ops` and render its results."""


def test_lower_layers_never_import_upper_ones() -> None:
    """Front ends sit on `squall.ops`, which sits on the session and everything below;
    process entry points (`__main__`) may use any layer."""
    edges = _imports()
    for module in edges:
        if module in ("squall", "squall.__main__") or module.endswith(".__main__"):
            continue
        if not module.startswith(FRONT_ENDS):
            for front in FRONT_ENDS:
                assert _reaches(edges, module, front) == [], f"{module} imports {front}"
        if not module.startswith((*FRONT_ENDS, "squall.ops")):
            assert _reaches(edges, module, "squall.ops") == [], f"{module} imports squall.ops"
        if module.startswith("squall.spec"):
            for layer in ("squall.runtime", "squall.faults", "squall.session"):
                assert _reaches(edges, module, layer) == [], f"{module} imports {layer}"
        if module.startswith("squall.sqlite"):
            outside = {m for m in edges[module] if not m.startswith("squall.sqlite")}
            assert outside <= {"squall.errors"}, f"{module} imports {outside}"
