"""The agent's side: one request -> the kernel code that Squall runs locally -> one answer.

Namespaces are named by their path on the agent's host (`/proc/<pid>/ns/net`: the
agent shares the host's pid namespace). The shaper, where that kernel lacks netem, runs
inside the agent container with its state under `STATE_ROOT/<project>`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from squall.errors import SquallError
from squall.faults.agent.codec import decode, encode
from squall.faults.kernel import (
    Applied,
    Observed,
    apply_many,
    clear_many,
    kernel_caps,
    observe,
    read_back_many,
)
from squall.faults.plan import KernelPlan
from squall.faults.shaper.control import ensure_shaper, shaper_status, stop_shaper
from squall.faults.shaper_config import ShaperConfig

STATE_ROOT = Path("/var/lib/squall-agent")

Handler = Callable[[Mapping[str, Any], Path], object]


def _caps(args: Mapping[str, Any], state: Path) -> object:
    return kernel_caps(state.parent)


def _observe(args: Mapping[str, Any], state: Path) -> object:
    return observe(str(args["netns"]))


def _apply(args: Mapping[str, Any], state: Path) -> object:
    plans = [(str(n), decode(KernelPlan, p)) for n, p in args["plans"]]
    observed = {str(k): decode(Observed, v) for k, v in args.get("observed", {}).items()}
    known = {str(k): decode(Applied, v) for k, v in args.get("known", {}).items()}
    return apply_many(plans, observed=observed, known=known)


def _clear(args: Mapping[str, Any], state: Path) -> object:
    clear_many([str(p) for p in args["paths"]], str(args["tag"]))
    return None


def _read_back(args: Mapping[str, Any], state: Path) -> object:
    return read_back_many([str(p) for p in args["paths"]], str(args["tag"]))


def _shaper(args: Mapping[str, Any], state: Path) -> object:
    action = args["action"]
    if action == "ensure":
        state.mkdir(parents=True, exist_ok=True)
        return ensure_shaper(state, decode(ShaperConfig, args["config"]))
    if action == "stop":
        return stop_shaper(state)
    return shaper_status(state)


HANDLERS: dict[str, Handler] = {
    "caps": _caps,
    "observe": _observe,
    "apply": _apply,
    "clear": _clear,
    "read_back": _read_back,
    "shaper": _shaper,
}


def answer(text: str, root: Path = STATE_ROOT) -> str:
    """One request (`{"op", "project", "args"}`) -> `{"ok": result}` or
    `{"error": {"type", "message"}}`; never raises for a Squall error."""
    try:
        request = json.loads(text)
        handler = HANDLERS[request["op"]]
        state = root / str(request["project"])
        result = handler(request.get("args", {}), state)
    except SquallError as exc:
        return json.dumps({"error": {"type": type(exc).__name__, "message": exc.message}})
    except (ValueError, KeyError, TypeError) as exc:
        return json.dumps({"error": {"type": "AgentError", "message": f"bad request: {exc}"}})
    return json.dumps({"ok": encode(result)})
