"""A file set -> one compose tree: each file read, interpolated, its `extends` and
`include` resolved, then merged over the files before it (Compose's order).

The result is still `Node`s, so the parser that follows reports every problem at the
file and line that wrote the value, whichever file of the set that was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from squall.spec.envfile import read_env_files
from squall.spec.interpolate import interpolate_tree
from squall.spec.merge import clean, merge_files, merge_service
from squall.spec.node import Node, suggestion
from squall.spec.paths import rebase_files, rebase_service
from squall.spec.yaml import DEFAULT_LIMITS, Limits, load_document

SHARED_BLOCKS = ("services", "networks", "volumes", "secrets", "configs")
MAX_CHAIN = 32
"""Longest `extends` or `include` chain followed (a cycle is reported before this)."""


@dataclass(frozen=True)
class Assembled:
    """The merged tree of a file set, and whether its first file is a v1 file."""

    root: Node
    v1: bool


def is_v1(root: Node) -> bool:
    """True when every top-level entry (but `version` and `x-*`) looks like a service."""
    entries = [
        child
        for key, child in root.mapping().items()
        if key != "version" and not key.startswith("x-")
    ]
    return bool(entries) and all(
        isinstance(child.value, dict) and ("image" in child.value or "build" in child.value)
        for child in entries
    )


@dataclass
class Assembler:
    """Reads the files of one project; `warnings` collects unset variables and such."""

    warnings: list[str] = field(default_factory=list)
    limits: Limits = DEFAULT_LIMITS
    _documents: dict[Path, Node] = field(default_factory=dict)

    def file_set(
        self, files: Sequence[Path], variables: Mapping[str, str], including: tuple[Path, ...] = ()
    ) -> Assembled:
        """Raises: SpecError at the first problem of any file."""
        merged: Node | None = None
        v1 = False
        for index, path in enumerate(files):
            root, file_v1 = self.one_file(path, variables, including)
            v1 = v1 or (index == 0 and file_v1)
            merged = root if merged is None else merge_files(merged, root)
        assert merged is not None
        return Assembled(clean(merged), v1)

    def document(self, path: Path) -> Node:
        if path not in self._documents:
            self._documents[path] = load_document(path, self.limits)
        return self._documents[path]

    def one_file(
        self, path: Path, variables: Mapping[str, str], including: tuple[Path, ...]
    ) -> tuple[Node, bool]:
        """One file as a compose tree: v1 files get their services under `services:`."""
        root = self.document(path)
        v1 = "services" not in root.mapping() and "containers" not in root.mapping() and is_v1(root)
        root = interpolate_tree(root, variables, self.warnings)
        if v1:
            root = _wrap_v1(root)
        root = _Extends(self, path, variables).resolve(root)
        if "include" in root.mapping():
            root = self.include(root, path, variables, including)
        return root, v1

    def include(
        self, root: Node, path: Path, variables: Mapping[str, str], including: tuple[Path, ...]
    ) -> Node:
        """`include:` entries, each a project of its own, added to `root`'s blocks."""
        if path in including or len(including) >= MAX_CHAIN:
            chain = " -> ".join(p.name for p in (*including, path))
            root.mapping()["include"].fail(f"include cycle: {chain}", at_key=True)
        top = dict(root.mapping())
        entries = top.pop("include")
        for entry in entries.sequence():
            imported = self.imported(entry, path, variables, (*including, path))
            for block in SHARED_BLOCKS:
                if block in imported.mapping():
                    top[block] = _add_imported(top.get(block), imported.mapping()[block], entry)
        return replace(root, value=top)

    def imported(
        self, entry: Node, path: Path, variables: Mapping[str, str], including: tuple[Path, ...]
    ) -> Node:
        here = path.parent
        if isinstance(entry.value, dict):
            spec = entry.value
            unknown = set(spec) - {"path", "project_directory", "env_file"}
            if unknown:
                key = sorted(unknown)[0]
                spec[key].fail(
                    f"unknown key{suggestion(key, ['path', 'project_directory', 'env_file'])}",
                    at_key=True,
                )
            if "path" not in spec:
                entry.fail("an include entry needs 'path'")
            paths = [_resolve(item, here) for item in spec["path"].text_or_texts()]
        else:
            spec = {}
            paths = [_resolve(entry, here)]
        for item, target in paths:
            if not target.is_file():
                item.fail(f"included file {target} does not exist")
        directory = paths[0][1].parent
        if "project_directory" in spec:
            directory = _resolve(spec["project_directory"], here)[1]
        env_nodes = spec["env_file"].text_or_texts() if "env_file" in spec else []
        env_files = [_resolve(item, here)[1] for item in env_nodes]
        own = read_env_files(env_files or [directory / ".env"], variables, required=bool(env_files))
        project = self.file_set([p for _, p in paths], {**variables, **own}, including).root
        return _rebase(project, directory)


class _Extends:
    """Resolves `extends` for the services of one file (chains, other files, cycles)."""

    def __init__(self, assembler: Assembler, path: Path, variables: Mapping[str, str]) -> None:
        self.assembler = assembler
        self.path = path
        self.variables = variables
        self.done: dict[tuple[Path, str], Node] = {}

    def resolve(self, root: Node) -> Node:
        top = root.mapping()
        services = top.get("services")
        if services is None or not isinstance(services.value, dict):
            return root
        if not any(
            isinstance(s.value, dict) and "extends" in s.value for s in services.value.values()
        ):
            return root
        resolved = {
            name: self.service(self.path, name, services.value, ()) for name in services.value
        }
        return replace(root, value={**top, "services": replace(services, value=resolved)})

    def service(
        self, path: Path, name: str, services: Mapping[str, Node], chain: tuple[str, ...]
    ) -> Node:
        key = (path, name)
        if key in self.done:
            return self.done[key]
        node = services[name]
        extends = node.value.get("extends") if isinstance(node.value, dict) else None
        if extends is None:
            return node
        label = name if path == self.path else f"{name} ({path.name})"
        base_name, base_file = self.target(extends, path)
        base_path = base_file or path
        base_services = services if base_file is None else self.services_of(base_file, extends)
        if base_name not in base_services:
            hint = suggestion(base_name, base_services)
            where = (
                extends.value.get("service", extends)
                if isinstance(extends.value, dict)
                else extends
            )
            where.fail(f"extends: no service {base_name!r} in {base_path.name}{hint}")
        base_label = base_name if base_path == self.path else f"{base_name} ({base_path.name})"
        if base_label in (*chain, label) or len(chain) >= MAX_CHAIN:
            cycle = " -> ".join((*chain, label, base_label))
            extends.fail(f"extends cycle: {cycle}", at_key=True)
        base = self.service(base_path, base_name, base_services, (*chain, label))
        if base_file is not None:
            base = rebase_service(base, base_file.parent)
        assert isinstance(node.value, dict)
        local = replace(node, value={k: v for k, v in node.value.items() if k != "extends"})
        merged = replace(
            merge_service(base, local),
            field=node.field,
            line=node.line,
            column=node.column,
            key_line=node.key_line,
            key_column=node.key_column,
        )
        self.done[key] = merged
        return merged

    def target(self, extends: Node, path: Path) -> tuple[str, Path | None]:
        """(service, file or None for this file) of an `extends:` value."""
        if isinstance(extends.value, str):
            return extends.value, None
        entries = extends.mapping()
        unknown = set(entries) - {"service", "file"}
        if unknown:
            key = sorted(unknown)[0]
            entries[key].fail(f"unknown key{suggestion(key, ['service', 'file'])}", at_key=True)
        if "service" not in entries:
            extends.fail("extends needs 'service'")
        name = entries["service"].text()
        if "file" not in entries:
            return name, None
        item, target = _resolve(entries["file"], path.parent)
        if not target.is_file():
            item.fail(f"extended file {target} does not exist")
        return name, target

    def services_of(self, path: Path, where: Node) -> Mapping[str, Node]:
        root = interpolate_tree(
            self.assembler.document(path), self.variables, self.assembler.warnings
        )
        if "services" not in root.mapping() and is_v1(root):
            root = _wrap_v1(root)
        services = root.mapping().get("services")
        if services is None or not isinstance(services.value, dict):
            where.fail(f"extended file {path} has no 'services:'")
        return services.value


def _resolve(node: Node, base: Path) -> tuple[Node, Path]:
    text = node.text()
    if text.startswith("~"):
        text = str(Path(text).expanduser())
    return node, Path(base / text).resolve() if not Path(text).is_absolute() else Path(text)


def _wrap_v1(root: Node) -> Node:
    """A v1 file (services at the top level) in the shape of a compose-spec file."""
    top = root.mapping()
    services = {
        key: child for key, child in top.items() if key != "version" and not key.startswith("x-")
    }
    others = {key: child for key, child in top.items() if key not in services}
    return replace(root, value={**others, "services": replace(root, value=services)})


def _rebase(root: Node, directory: Path) -> Node:
    """An included project with its relative paths made absolute in its directory."""
    top = dict(root.mapping())
    services = top.get("services")
    if services is not None and isinstance(services.value, dict):
        rebased = {name: rebase_service(node, directory) for name, node in services.value.items()}
        top["services"] = replace(services, value=rebased)
    for block in ("secrets", "configs"):
        if block in top:
            top[block] = rebase_files(top[block], directory)
    return replace(root, value=top)


def _add_imported(mine: Node | None, imported: Node, entry: Node) -> Node:
    """Imported entries join `mine`; one defined on both sides is an error (as Compose)."""
    if mine is None or mine.value is None:
        return imported
    ours, theirs = mine.mapping(), imported.mapping()
    for name in theirs:
        if name in ours:
            ours[name].fail(
                f"{name!r} is also defined by the file included at line {entry.line}"
                f" ({theirs[name].source})",
                at_key=True,
            )
    return replace(mine, value={**ours, **theirs})
