"""Large clusters stay readable: long groups are summarised for people, `--json` and
the operations' results keep every name."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from squall.cli.render import status_json, status_table
from squall.faults.partition import describe_partition, group_text, groups_partition
from squall.ops.opening import Where
from squall.ops.operations import Operations
from squall.ops.requests import PartitionRequest, UpRequest
from tests.unit.fakes import FakeBackend

SERVICES = [f"s{i}" for i in range(40)]


def _ops(tmp_path: Path) -> Operations:
    lines = ["name: big", "services:"] + [f"  {s}: {{image: squall/busybox}}" for s in SERVICES]
    (tmp_path / "compose.yaml").write_text("\n".join(lines) + "\n")
    where = Where.of_file(tmp_path / "compose.yaml", state_root=tmp_path / "state")
    ops = Operations.open(where, backend=FakeBackend())
    ops.run(UpRequest())
    return ops


def test_groups_of_more_than_ten_names_are_summarised() -> None:
    assert group_text(["a", "b"]) == "a,b"
    assert group_text([f"s{i}" for i in range(10)]) == ",".join(f"s{i}" for i in range(10))
    assert group_text([f"s{i}" for i in range(1000)]) == "s0,s1,s2 +997 others"
    halves = groups_partition([[f"s{i}" for i in range(500)], [f"s{i}" for i in range(500, 1000)]])
    line = describe_partition(halves)
    assert line == "partition (groups): s0,s1,s10 +497 others | s500,s501,s502 +497 others"


def test_partition_message_and_status_table_are_short_json_keeps_every_name(
    tmp_path: Path,
) -> None:
    ops = _ops(tmp_path)
    first, second = SERVICES[:2], SERVICES[2:]
    result = ops.run(PartitionRequest(groups=(tuple(first), tuple(second))))
    assert result.message == "partition (groups): s0,s1 | s10,s11,s12 +35 others"
    assert result.partition is not None and set(result.partition.groups[1]) == set(second)

    status = ops.status(read_kernel=False)
    console = Console(width=200, record=True)
    console.print(status_table(status))
    text = console.export_text()
    assert "+35 others" in text and "cut from s10,s11,s12 +35 others" in text
    assert max(len(line) for line in text.splitlines()) < 200

    data = json.loads(status_json(status))
    assert sorted(data["partition"]["groups"][1]) == sorted(second)
    cut = next(s for s in data["services"] if s["service"] == "s0")
    assert sorted(cut["faults"]["cannot_reach"]) == sorted(second)
