"""Every compose file of docker/awesome-compose loads (warnings allowed).

The corpus lives outside the repository, in `<repo>/../shared/corpus/awesome-compose`,
and is read where it lies, never copied in.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from squall.spec import load_cluster
from squall.spec.loader import CLUSTER_FILE_NAMES

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO.parent / "shared" / "corpus" / "awesome-compose"
FILES = (
    sorted(path for path in CORPUS.glob("*/*") if path.name in CLUSTER_FILE_NAMES)
    if CORPUS.is_dir()
    else []
)


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")
def test_corpus_is_there() -> None:
    assert len(FILES) >= 39


@pytest.mark.skipif(not FILES, reason=f"corpus not found at {CORPUS}")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.parent.name)
def test_corpus_file_loads(path: Path) -> None:
    spec = load_cluster(path, environ={"HOME": "/home/tester"})
    assert spec.services
    assert all(s.image or s.build for s in spec.services)
    for warning in spec.warnings:
        assert warning.startswith(f"{path}:") and "\n" not in warning
