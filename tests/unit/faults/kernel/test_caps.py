"""The capability probe as a table: each row is one command, one loop runs them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from squall.faults.kernel.caps import PROBES, run_probes
from squall.faults.plan import KernelCaps
from squall.linux.commands import Completed, Runner


class ScriptedRunner(Runner):
    """Answers each command from a list of failing program words; records the order."""

    def __init__(self, failing: Sequence[str] = ()) -> None:
        super().__init__()
        self.failing = failing
        self.ran: list[str] = []

    def run(
        self, argv: Sequence[str], stdin: str | None = None, *, check: bool = True
    ) -> Completed:
        line = " ".join(argv)
        self.ran.append(line)
        code = 2 if any(word in line for word in self.failing) else 0
        return Completed(tuple(argv), code, "", "")


def test_every_capability_is_probed_once() -> None:
    fields = {f.name for f in dataclasses.fields(KernelCaps) if f.type in (bool, "bool")}
    probed = [p.cap for p in PROBES if p.cap is not None]
    assert sorted(probed) == sorted(fields)


def test_a_kernel_without_netem_and_ifb() -> None:
    runner = ScriptedRunner(failing=("netem", "type ifb"))
    found = run_probes(runner)
    assert KernelCaps(**found, iptables_backend="nft") == KernelCaps(
        netem=False, ifb=False, mirred=False, iptables_backend="nft"
    )
    assert not any("mirred" in line for line in runner.ran), "mirred needs an ifb"
    # What a probe made is undone whether it worked or not; police still gets its ingress.
    netem = runner.ran.index("tc qdisc add dev lo root netem delay 1ms")
    assert runner.ran[netem + 1] == "tc qdisc del dev lo root"
    assert runner.ran.index("tc qdisc add dev lo handle ffff: ingress") < next(
        i for i, line in enumerate(runner.ran) if "police" in line
    )


def test_everything_present() -> None:
    assert KernelCaps(**run_probes(ScriptedRunner()), iptables_backend="legacy") == KernelCaps(
        iptables_backend="legacy"
    )
