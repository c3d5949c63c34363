"""The SQLite server must start where only the standard library exists (containers)."""

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def test_sqlite_server_imports_without_third_party_packages() -> None:
    code = f"import sys; sys.path.insert(0, {str(SRC)!r}); import squall.sqlite.standalone, squall"
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
