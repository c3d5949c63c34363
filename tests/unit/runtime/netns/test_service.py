"""A compose service as the netns supervisor runs it."""

from __future__ import annotations

from pathlib import Path

from squall.runtime.netns.service import dockerfile_command


def test_dockerfile_cmd_of_the_last_stage(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        'FROM a\nCMD ["no"]\nFROM b\nENTRYPOINT ["tini", "--"]\nCMD echo \\\n  hello\n'
    )
    entrypoint, cmd = dockerfile_command(dockerfile)
    assert entrypoint == ("tini", "--")
    assert cmd == ("/bin/sh", "-c", "echo  hello")
