"""Top-level `secrets:` / `configs:` and a service's use of them.

Without Swarm, Compose mounts each one as a file: a secret at `/run/secrets/<name>`
by default, a config at `/<name>`. Its content comes from a `file` (a path resolved
against the project directory), an `environment` variable or inline `content`, or the
engine already has it (`external`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Literal

from squall.spec.keys import FILE_MOUNT, SECRET
from squall.spec.model import FileMount, FileSpec
from squall.spec.mounts import MountContext, host_path
from squall.spec.node import Node, suggestion

Kind = Literal["secret", "config"]
_SOURCES = ("file", "environment", "content", "external")


def parse_files(node: Node | None, kind: Kind, context: MountContext) -> dict[str, FileSpec]:
    """The entries of a top-level `secrets:` or `configs:` block."""
    if node is None:
        return {}
    result = {}
    for name, item in node.optional_mapping().items():
        entries = SECRET.entries(item, context.warnings)
        given = [key for key in _SOURCES if key in entries and entries[key].value is not None]
        external = "external" in given and entries["external"].boolean()
        if "external" in given and not external:
            given.remove("external")
        if len(given) != 1:
            what = "none" if not given else ", ".join(given)
            item.fail(
                f"a {kind} needs exactly one of file, environment, content, external ({what})",
                at_key=True,
            )
        if kind == "secret" and "content" in given:
            entries["content"].fail("a secret cannot have 'content' (use file or environment)")
        file = None
        if "file" in given:
            file = host_path(entries["file"], entries["file"].text(), context)
        variable = entries["environment"].text() if "environment" in given else None
        if variable is not None and variable not in context.variables:
            context.warnings.append(
                entries["environment"].warning(
                    f"variable {variable} is not set; the {kind} is empty"
                )
            )
        result[name] = FileSpec(
            name=name,
            location=item.key_location,
            file=file,
            environment=variable,
            content=entries["content"].text() if "content" in given else None,
            external=external,
            value=None if variable is None else context.variables.get(variable, ""),
            declared_name=entries["name"].text()
            if "name" in entries and entries["name"].value is not None
            else None,
        )
    return result


def parse_mounts(
    node: Node, kind: Kind, declared: Collection[str], warnings: list[str]
) -> list[FileMount]:
    """A service's `secrets:` or `configs:` list (names, or long syntax)."""
    result = []
    for item in node.sequence():
        if isinstance(item.value, dict):
            entries: Mapping[str, Node] = FILE_MOUNT.entries(item, warnings)
            if "source" not in entries:
                item.fail(f"a {kind} entry needs 'source'")
            where = entries["source"]
        else:
            entries, where = {}, item
        source = where.text()
        if source not in declared:
            hint = suggestion(source, declared)
            where.fail(f"{kind} {source!r} is not declared under the top-level '{kind}s:'{hint}")
        target = entries["target"].text() if "target" in entries else source
        if not target.startswith("/"):
            target = f"/run/secrets/{target}" if kind == "secret" else f"/{target}"
        mode = None
        if "mode" in entries:
            mode = _mode(entries["mode"])
        result.append(
            FileMount(
                source=source,
                target=target,
                uid=entries["uid"].text() if "uid" in entries else None,
                gid=entries["gid"].text() if "gid" in entries else None,
                mode=mode,
            )
        )
    return result


def _text(node: Node | None) -> str | None:
    return None if node is None or node.value is None else node.text()


def _mode(node: Node) -> int:
    """A file mode: a number (YAML reads `0440` as octal 288) or an octal string."""
    if isinstance(node.value, str):
        try:
            mode = int(node.value, 8)
        except ValueError:
            node.fail(f"invalid file mode {node.value!r} (an octal number such as 0440)")
    else:
        mode = node.integer()
    if not 0 <= mode <= 0o7777:
        node.fail(f"file mode {mode:o} is out of range (0 to 7777, octal)")
    return mode
