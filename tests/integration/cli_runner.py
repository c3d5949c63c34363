"""The real `squall` command in a subprocess, as a user types it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SquallRunner:
    """`squall -f FILE -p PROJECT ...` as a user would type it, in a subprocess."""

    file: Path
    project: str
    env: dict[str, str] = field(default_factory=dict)

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.argv(*args),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            env=self.environment(),
            cwd=self.file.parent,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "squall", "-f", str(self.file), "-p", self.project, *args]

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.env}
