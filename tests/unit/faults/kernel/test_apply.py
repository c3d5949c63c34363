"""Writing a plan: the iptables-restore input and the tc batch, as text."""

from __future__ import annotations

from squall.faults.kernel.apply import restore_text, tc_batch
from squall.faults.kernel.readback import Qdisc, Snapshot, parse_save
from squall.faults.model import Blocks, NamespaceFaults, Selector, Shape
from squall.faults.plan import Interface, KernelCaps, KernelPlan, plan
from squall.units import parse_rate
from tests.unit.faults.kernel.test_readback import SAVE

FAULTS = NamespaceFaults(
    tag="demo", netns="/n", label="demo/api", blocks=Blocks(egress=("10.0.0.3",))
)


def test_restore_replaces_chains_fixes_duplicate_jumps_and_drops_stale_chains() -> None:
    p = plan(FAULTS, [Interface("eth0", ("10.0.0.2/24",))], KernelCaps(netem=False))
    text = restore_text(p, parse_save(SAVE, "demo"))
    jump = '-m comment --comment "squall:demo" -j'
    assert text.splitlines() == [
        "*filter",
        ":SQUALL-demo-OUT - [0:0]",
        '-A SQUALL-demo-OUT -d 10.0.0.3/32 -m comment --comment "squall:demo" -j DROP',
        f"-D OUTPUT {jump} SQUALL-demo-OUT",
        f"-D INPUT {jump} SQUALL-demo-IN",
        "-F SQUALL-demo-IN",
        "-X SQUALL-demo-IN",
        "COMMIT",
    ]


def test_restore_of_an_empty_plan_removes_everything_of_the_tag() -> None:
    text = restore_text(KernelPlan(tag="demo", label=""), parse_save(SAVE, "demo"))
    assert "SQUALL-other-OUT" not in text
    assert text.count("-X ") == 2 and text.count("-D ") == 3
    assert restore_text(KernelPlan(tag="demo", label=""), parse_save("", "demo")) == ""


def test_tc_batch_rebuilds_squalls_qdiscs_and_leaves_others() -> None:
    shape = Shape(rate=parse_rate("1mbit"), selector=Selector(direction="both"))
    p = plan(
        NamespaceFaults(tag="demo", netns="/n", label="x", shapes=(shape,)),
        [Interface("eth0")],
        KernelCaps(netem=False),
    )
    snap = Snapshot(
        parse_save("", "demo"),
        (
            Qdisc("eth0", "htb", "5351:", "root"),
            Qdisc("eth0", "ingress", "ffff:", "ingress"),
            Qdisc("eth1", "fq_codel", "0:", "root"),
            Qdisc("sq-eth0", "htb", "5351:", "root"),
        ),
        ("sq-eth0",),
    )
    lines = tc_batch(p, snap)
    assert lines[:3] == [
        "qdisc del dev eth0 root",
        "qdisc del dev eth0 ingress",
        "qdisc del dev sq-eth0 root",
    ]
    assert lines[3:] == [" ".join(a[1:]) for a in p.tc]
    # nothing planned: the stale ifb is deleted as a link, so only eth0 needs tc
    empty = tc_batch(KernelPlan(tag="demo", label=""), snap)
    assert empty == ["qdisc del dev eth0 root", "qdisc del dev eth0 ingress"]
