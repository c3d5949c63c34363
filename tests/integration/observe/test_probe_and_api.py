"""Probe figures agree with the faults applied; the API logs and restores what it does."""

from __future__ import annotations

import subprocess
import sys

import squall


def test_a_healthy_cluster_has_sub_millisecond_rtt_and_no_loss(cluster: squall.Cluster) -> None:
    report = cluster.probe(count=20, throughput=0.3)
    assert len(report.pairs) == 6
    for pair in report.pairs:
        assert pair.received == pair.sent == 20 and not pair.partitioned
        assert pair.p50_ms is not None and pair.p50_ms < 5
        assert pair.throughput_mbit is not None and pair.throughput_mbit > 10


def test_probe_sees_the_delay_applied_to_one_peer_only(cluster: squall.Cluster) -> None:
    with cluster.shaped("a", delay="60ms", to=["b"]):
        report = cluster.probe(count=20)
        for src, dst in (("a", "b"), ("b", "a")):  # a round trip: both directions see it
            p50 = report.pair(src, dst).p50_ms
            assert p50 is not None and 58 <= p50 <= 75, (src, dst, p50)
        p50_ac = report.pair("a", "c").p50_ms
        assert p50_ac is not None and p50_ac < 5
    assert not cluster.session.desired_faults().shapes  # restored on exit


def test_probe_sees_the_loss_applied(cluster: squall.Cluster) -> None:
    cluster.shape("c", loss="30%")
    report = cluster.probe(["c"], count=300, timeout=1.0)
    for pair in report.pairs:
        assert 0.18 <= pair.loss <= 0.42, (pair.src, pair.dst, pair.loss)
    assert {p.src for p in report.pairs} | {p.dst for p in report.pairs} == {"a", "b", "c"}


def test_probe_marks_partitioned_pairs_and_they_are_cut(cluster: squall.Cluster) -> None:
    with cluster.partitioned(["a"], ["b", "c"]):
        report = cluster.probe(count=5, timeout=0.5)
        for pair in report.pairs:
            assert pair.partitioned == ("a" in (pair.src, pair.dst)), pair
            assert pair.agrees, pair
    assert all(not p.cut for p in cluster.probe(count=5).pairs)


def test_api_changes_are_logged_in_order_and_the_cli_shows_them(cluster: squall.Cluster) -> None:
    before = len(cluster.events())
    with cluster.partitioned(["a"], ["b"]), cluster.shaped(["b", "c"], delay="5ms"):
        cluster.pause("c")
    cluster.heal()
    logged = cluster.events()[before:]
    assert [e.what for e in logged] == ["partition", "shape", "pause", "restore", "join", "unpause"]
    assert all(e.who == "api" and e.ok for e in logged)
    assert logged[1].targets == ("b", "c")
    state_root = cluster.session.state.root
    cli = subprocess.run(
        [sys.executable, "-m", "squall", "-p", cluster.project, "events", "--tail", "6"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"SQUALL_STATE_DIR": str(state_root), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    lines = cli.stdout.splitlines()
    assert len(lines) == 6 and "api[" in lines[0] and "partition" in lines[0]
    assert "unpause c" in lines[-1]
    probe = subprocess.run(
        [sys.executable, "-m", "squall", "-p", cluster.project, "probe", "--count", "3"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"SQUALL_STATE_DIR": str(state_root), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
        check=True,
    )
    assert "FROM" in probe.stdout and "ms" in probe.stdout
