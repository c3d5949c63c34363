"""The agent's wire: fault data through JSON unchanged, and answers for bad requests."""

from __future__ import annotations

import json
from pathlib import Path

from squall.faults.agent.codec import decode, encode
from squall.faults.agent.serve import answer
from squall.faults.kernel import Applied, Observed
from squall.faults.model import NamespaceFaults, Shape
from squall.faults.plan import Chain, Interface, KernelCaps, KernelPlan, plan
from squall.faults.shaper_config import NamespaceQueues, QueueSpec, ShaperConfig
from squall.units import parse_duration, parse_percent, parse_rate


def _round_trip(value: object) -> object:
    return decode(type(value), json.loads(json.dumps(encode(value))))


def test_plans_observations_and_records_survive_the_trip() -> None:
    faults = NamespaceFaults(
        tag="sq0123ab",
        netns="/proc/7/ns/net",
        label="p/a",
        shapes=(
            Shape(
                delay=parse_duration("100ms"),
                loss=parse_percent("1%"),
                rate=parse_rate("2mbit"),
            ),
        ),
    )
    interfaces = (Interface("eth0", ("10.0.1.2/24",), True),)
    for caps in (KernelCaps(), KernelCaps(netem=False, iptables_backend="legacy")):
        kernel_plan = plan(faults, interfaces, caps, 0.0)
        assert _round_trip(kernel_plan) == kernel_plan
    assert _round_trip(KernelCaps(netem=False)) == KernelCaps(netem=False)
    observed = Observed("/proc/7/ns/net", 42, interfaces, (), ("sq-1",))
    assert _round_trip(observed) == observed
    record = Applied("/proc/7/ns/net", 42, "sq0123ab", (Chain("filter", "SQ-X", "OUTPUT", "c"),))
    assert _round_trip(record) == record
    config = ShaperConfig(
        (NamespaceQueues("/proc/7/ns/net", "p/a", (QueueSpec(5351, delay=0.1),)),)
    )
    assert _round_trip(config) == config
    assert _round_trip(KernelPlan(tag="sq0123ab", label="")) == KernelPlan(tag="sq0123ab", label="")


def test_a_bad_request_is_an_answer_not_a_crash(tmp_path: Path) -> None:
    for text in ("not json", '{"op": "nope", "project": "p"}', '{"project": "p"}'):
        reply = json.loads(answer(text, tmp_path))
        assert reply["error"]["type"] == "AgentError"
        assert reply["error"]["message"].startswith("bad request")


def test_a_squall_error_comes_back_with_its_message(tmp_path: Path) -> None:
    request = {"op": "observe", "project": "p", "args": {"netns": str(tmp_path / "absent")}}
    reply = json.loads(answer(json.dumps(request), tmp_path))
    assert "error" in reply and reply["error"]["message"]
