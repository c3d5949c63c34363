"""One atomic write for every file another process reads while Squall rewrites it."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from squall.atomic import write_atomic

SIZE = 1 << 20


def test_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    write_atomic(target, '{"new": true}')
    write_atomic(target, b"bytes too")
    assert target.read_bytes() == b"bytes too"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_mode_is_what_the_caller_asks(tmp_path: Path) -> None:
    target = tmp_path / "secret.json"
    write_atomic(target, "{}", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_reader_never_sees_half_a_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    write_atomic(target, "a" * SIZE)
    done = threading.Event()
    seen: set[tuple[int, str]] = set()

    def read() -> None:
        while not done.is_set():
            text = target.read_text()
            seen.add((len(text), "".join(sorted(set(text)))))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(40):
            write_atomic(target, ("b" if i % 2 else "a") * SIZE)
    finally:
        done.set()
        reader.join()
    assert seen <= {(SIZE, "a"), (SIZE, "b")}


def test_two_writers_at_once_both_succeed(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    errors: list[BaseException] = []

    def write(text: str) -> None:
        try:
            for _ in range(200):
                write_atomic(target, text)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(t,)) for t in ("one", "two")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert errors == []
    assert target.read_text() in ("one", "two")
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_a_failed_write_changes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "keep.json"
    target.write_text("kept")
    with pytest.raises(TypeError):
        write_atomic(target, 42)  # type: ignore[arg-type]
    assert target.read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "missing" / "x.json", "{}")
