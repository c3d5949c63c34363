"""Where a namespace's kernel is reached: here, or through the agent of its host.

The fault engine plans everywhere the same way and hands each namespace's work to the
`Kernel` it lives on: `LocalKernel` runs the kernel code in this process (entering the
namespace), `AgentKernel` sends the same request, encoded, to the agent on that host's
engine and decodes its answer. An error the agent reports comes back as a Squall error
with the agent's message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from squall.errors import FaultError
from squall.faults.agent.codec import decode, encode
from squall.faults.kernel import (
    ActualFaults,
    Applied,
    Observed,
    apply_many,
    clear_many,
    kernel_caps,
    observe,
    read_back_many,
)
from squall.faults.plan import KernelCaps, KernelPlan
from squall.faults.shaper.control import (
    ShaperStatus,
    ensure_shaper,
    shaper_status,
    stop_shaper,
)
from squall.faults.shaper_config import ShaperConfig
from squall.linux.commands import Log, Runner

Call = Callable[[str], str]
"""Sends one request (JSON text) to an agent, returns its answer (JSON text)."""


class Kernel(Protocol):
    def caps(self) -> KernelCaps: ...

    def observe(self, netns: str) -> Observed: ...

    def apply(
        self,
        plans: Sequence[tuple[str, KernelPlan]],
        observed: Mapping[str, Observed],
        known: Mapping[str, Applied],
    ) -> list[Applied]: ...

    def clear(self, paths: Sequence[str], tag: str) -> None: ...

    def read_back(self, paths: Sequence[str], tag: str) -> dict[str, ActualFaults]: ...

    def ensure_shaper(self, config: ShaperConfig) -> None: ...

    def shaper(self) -> ShaperStatus: ...

    def stop_shaper(self) -> None: ...


@dataclass
class LocalKernel:
    """This machine's kernel; the shaper's files in `state_dir`."""

    state_dir: Path
    caps_dir: Path
    log: Log | None = None
    runner: Runner | None = None

    def caps(self) -> KernelCaps:
        return kernel_caps(self.caps_dir, self.log)

    def observe(self, netns: str) -> Observed:
        return observe(netns, self.log)

    def apply(
        self,
        plans: Sequence[tuple[str, KernelPlan]],
        observed: Mapping[str, Observed],
        known: Mapping[str, Applied],
    ) -> list[Applied]:
        runner = self.runner if self.runner is not None else Runner(self.log)
        return apply_many(plans, observed=observed, known=known, runner=runner)

    def clear(self, paths: Sequence[str], tag: str) -> None:
        runner = self.runner if self.runner is not None else Runner(self.log)
        clear_many(paths, tag, runner=runner)

    def read_back(self, paths: Sequence[str], tag: str) -> dict[str, ActualFaults]:
        return read_back_many(paths, tag, self.log)

    def ensure_shaper(self, config: ShaperConfig) -> None:
        ensure_shaper(self.state_dir, config)

    def shaper(self) -> ShaperStatus:
        return shaper_status(self.state_dir)

    def stop_shaper(self) -> None:
        stop_shaper(self.state_dir)


@dataclass
class AgentKernel:
    """The kernel of host `host`, through its agent (reached by `call`)."""

    host: str
    project: str
    call: Call
    log: Log | None = None

    def _ask(self, op: str, **args: Any) -> Any:
        if self.log is not None:
            self.log(f"agent {self.host}: {op}")
        request = json.dumps({"op": op, "project": self.project, "args": encode(args)})
        try:
            answer = json.loads(self.call(request))
        except ValueError as exc:
            raise FaultError(f"the agent on host {self.host!r} gave no answer: {exc}") from exc
        if "error" in answer:
            error = answer["error"]
            raise FaultError(f"agent on host {self.host!r}: {error.get('message')}")
        return answer.get("ok")

    def caps(self) -> KernelCaps:
        return decode(KernelCaps, self._ask("caps"))

    def observe(self, netns: str) -> Observed:
        return decode(Observed, self._ask("observe", netns=netns))

    def apply(
        self,
        plans: Sequence[tuple[str, KernelPlan]],
        observed: Mapping[str, Observed],
        known: Mapping[str, Applied],
    ) -> list[Applied]:
        raw = self._ask("apply", plans=list(plans), observed=dict(observed), known=dict(known))
        return [decode(Applied, a) for a in raw]

    def clear(self, paths: Sequence[str], tag: str) -> None:
        self._ask("clear", paths=list(paths), tag=tag)

    def read_back(self, paths: Sequence[str], tag: str) -> dict[str, ActualFaults]:
        raw = self._ask("read_back", paths=list(paths), tag=tag)
        return {str(k): decode(ActualFaults, v) for k, v in raw.items()}

    def ensure_shaper(self, config: ShaperConfig) -> None:
        self._ask("shaper", action="ensure", config=config)

    def shaper(self) -> ShaperStatus:
        return decode(ShaperStatus, self._ask("shaper", action="status"))

    def stop_shaper(self) -> None:
        self._ask("shaper", action="stop")
