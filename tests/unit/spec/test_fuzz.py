"""Fuzzing the loader: mutations of the example files and of this issue's fixtures.

Whatever the bytes, loading ends in a `ClusterSpec` or in one of Squall's own errors
(one line, naming the file), never in a traceback, and within bounded time (each
example has a deadline; the whole run is capped by `max_examples`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from squall.errors import SquallError
from squall.spec import load_cluster
from squall.spec.files import CLUSTER_FILE_NAMES, OVERRIDE_FILE_NAMES

REPO = Path(__file__).resolve().parents[3]
SOURCES = sorted(
    path
    for folder in (REPO / "examples", Path(__file__).parent / "fixtures")
    for path in folder.rglob("*.y*ml")
    if path.name in CLUSTER_FILE_NAMES + OVERRIDE_FILE_NAMES or path.parent.name == "common"
)
ALPHABET = st.sampled_from([*":{}[]&*!-|>#'\"\n ,$?~<=", "  ", "\t", "!reset ", "*a", "&a "])
ENVIRON = {"HOME": "/home/tester", "API_KEY": "k"}


@pytest.fixture(scope="module")
def scratch() -> Iterator[dict[Path, Path]]:
    """A copy of each source's folder (its relative files stay reachable)."""
    with tempfile.TemporaryDirectory() as root:
        copies = {}
        for index, source in enumerate(SOURCES):
            folder = Path(root) / str(index)
            shutil.copytree(source.parent, folder, ignore=shutil.ignore_patterns("*.py", "tests"))
            copies[source] = folder / source.name
        yield copies


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Path, str]:
    source = draw(st.sampled_from(SOURCES))
    text = source.read_text()
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start, min(len(text), start + 40)))
        how = draw(st.sampled_from(["delete", "insert", "duplicate", "replace"]))
        if how == "delete":
            text = text[:start] + text[end:]
        elif how == "insert":
            text = text[:start] + "".join(draw(st.lists(ALPHABET, max_size=6))) + text[start:]
        elif how == "duplicate":
            text = text[:end] + text[start:end] * draw(st.integers(1, 30)) + text[end:]
        else:
            value = draw(st.sampled_from(["-3", "1e999", "9" * 60, "''", "null", "[]", "{}", "*x"]))
            text = text[:start] + value + text[end:]
    return source, text


@settings(
    max_examples=1000,
    deadline=5000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(case=mutated())
def test_no_traceback_whatever_the_file(scratch: dict[Path, Path], case: tuple[Path, str]) -> None:
    source, text = case
    target = scratch[source]
    target.write_text(text)
    try:
        spec = load_cluster(target, environ=ENVIRON)
    except SquallError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith(str(target.parent)), message
    else:
        assert all("\n" not in warning for warning in spec.warnings)
    finally:
        shutil.copyfile(source, target)


def test_the_sources_are_there() -> None:
    assert len(SOURCES) >= 15
