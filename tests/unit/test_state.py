import multiprocessing
import time
from pathlib import Path

import pytest

from squall.errors import ClusterBusy
from squall.state import StateDir, default_state_root


def _hold(
    root: str,
    ready: "multiprocessing.synchronize.Event",
    release: "multiprocessing.synchronize.Event",
) -> None:
    with StateDir(Path(root), "demo").locked("up"):
        ready.set()
        release.wait(10)


def test_second_command_waits_then_names_the_holder(tmp_path: Path) -> None:
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(str(tmp_path), ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        started = time.monotonic()
        with (
            pytest.raises(ClusterBusy, match=rf"busy: pid {holder.pid} \(squall up\)"),
            StateDir(tmp_path, "demo").locked("down", wait=0.3),
        ):
            pass
        assert time.monotonic() - started >= 0.3
    finally:
        release.set()
        holder.join(10)
    with StateDir(tmp_path, "demo").locked("down", wait=1):
        pass


def test_state_root_follows_environment(tmp_path: Path) -> None:
    assert default_state_root({"SQUALL_STATE_DIR": str(tmp_path)}) == tmp_path
    assert default_state_root({"XDG_STATE_HOME": "/x", "HOME": "/h"}) == Path("/x/squall")


def test_constructing_touches_nothing(tmp_path: Path) -> None:
    StateDir(tmp_path / "nope", "demo")
    assert not (tmp_path / "nope").exists()
