"""`python -m squall.chaos --run JSON`: a detached chaos run (see `control.start_detached`).

Its output (one line per step) goes to `chaos.log` in the state directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from squall.chaos.control import DetachedRun
from squall.chaos.runner import ChaosState, Stop, signals_stop
from squall.errors import SquallError
from squall.ops.opening import Where
from squall.ops.operations import Operations
from squall.ops.requests import ChaosRequest


class _Lines:
    """Prints each new line of the run's log (the file is the detached run's view)."""

    def __init__(self) -> None:
        self.printed = 0

    def __call__(self, state: ChaosState) -> None:
        for line in state.log[self.printed :]:
            print(line, flush=True)
        self.printed = len(state.log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m squall.chaos", description=__doc__)
    parser.add_argument("--run", required=True, help="the DetachedRun, as JSON")
    run = DetachedRun.from_json(parser.parse_args(argv).run)
    where = Where(
        files=tuple(Path(f) for f in run.files),
        project_directory=Path(run.project_directory),
        profiles=tuple(run.profiles),
        project=run.project,
        backend=run.backend,
        state_root=Path(run.state_root),
    )
    stop = Stop()
    try:
        ops = Operations.open(where, need_file=True)
        try:
            plan = ops.plan_chaos(ChaosRequest(**run.request))  # type: ignore[arg-type]
            print(f"chaos seed {plan.seed}: SIGTERM heals and stops", flush=True)
            with signals_stop(stop):
                state = ops.run_chaos(plan, stop, _Lines())
        finally:
            ops.close()
    except SquallError as exc:
        print(f"squall chaos: error: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"chaos run {state.run} {state.finished}; everything healed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
