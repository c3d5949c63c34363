"""`python -m squall.expiry`: one `--duration` timer (see `squall.expiry`)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from squall.errors import SquallError
from squall.events import Actor
from squall.expiry import MODULE
from squall.linux.procs import read_pid
from squall.ops.opening import Where, open_session


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__)
    parser.add_argument("--state-root", type=Path, required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--backend", required=True)
    parser.add_argument("--at", type=float, required=True)
    parser.add_argument("--pidfile", type=Path, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    time.sleep(max(0.0, args.at - time.time()))

    where = Where(
        project=args.project, backend=args.backend, state_root=args.state_root, search=False
    )
    try:
        session = open_session(where, actor=Actor("timer"))
        with session.backend:
            session.reconcile_faults()
    except SquallError as exc:
        print(f"squall expiry: {exc}", file=sys.stderr)
        return 1
    finally:
        if read_pid(args.pidfile) == os.getpid():
            args.pidfile.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
